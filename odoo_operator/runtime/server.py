"""aiohttp servers on bind addresses like controller-runtime's flags (`:8080`, `0` = off).

Guarantees:
- `parse_bind_address` accepts `[HOST]:PORT` (empty host = every interface, port 0 =
  any free port) or `0` (disabled) and rejects anything else with a `ValueError` saying
  what is expected (the caller names the setting);
- `HttpServer.start()` returns once the socket listens and `port` is the bound port;
  `stop()` closes the listener and waits for open requests to finish (aiohttp's grace).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest


@dataclass(frozen=True)
class BindAddress:
    host: str | None  # None: every interface
    port: int


def parse_bind_address(value: str) -> BindAddress | None:
    """`:8080` -> every interface, port 8080; `127.0.0.1:0` -> a free port; `0` -> None."""
    text = value.strip()
    if text == "0":
        return None
    host, separator, port_text = text.rpartition(":")
    if not separator or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            "expected [HOST]:PORT (e.g. ':8080' or '127.0.0.1:8080') or '0' to disable"
        )
    host = host.strip("[]")
    return BindAddress(host or None, int(port_text))


class HttpServer:
    def __init__(
        self,
        name: str,
        address: BindAddress,
        app: web.Application,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.app = app
        self.ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(
            runner, self.address.host, self.address.port, ssl_context=self.ssl_context
        )
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            where = f"{self.address.host or ''}:{self.address.port}"
            raise OSError(f"{self.name} server: cannot listen on {where}: {error}") from error
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = self.address.host or "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def metrics_app(registry: CollectorRegistry) -> web.Application:
    """`GET /metrics` in the Prometheus text format."""

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app

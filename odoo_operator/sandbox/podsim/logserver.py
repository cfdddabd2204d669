"""The node's kubelet endpoint: container logs for the API server, and a health check.

HTTPS on loopback with a certificate of the sandbox CA; every client must present a
certificate of that CA too (the API server's kubelet client certificate), as a
kubelet authenticates the API server. Routes, as the kubelet serves them:

- `GET /containerLogs/{namespace}/{pod}/{container}` with `follow`, `previous`,
  `timestamps`, `tailLines`, `limitBytes`, `sinceSeconds`, `sinceTime`; what
  `kubectl logs` reaches through `pods/log`. A follower gets new lines as they are
  written and the response ends when the container's run ends. Bad parameters are a
  400 naming the parameter; unknown pods or containers a 404; a container that has not
  run yet a 400 with the kubelet's message;
- `GET /healthz`: 200 `ok` once the node agent has synced, 503 before.

Anything else (exec, attach, port-forward) is a 404 saying the simulator does not
provide it.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from odoo_operator.sandbox.podsim.logs import ContainerLog, Entry, LogOptions, read, tail
from odoo_operator.sandbox.podsim.pods import Container, PodWorker

PodLookup = Callable[[str, str], PodWorker | None]
_TRUE = {"true", "1"}


class BadRequest(ValueError):
    pass


def _integer(query: dict[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise BadRequest(f"{name}: must be at least {minimum}, got {value}")
    return value


def parse_options(query: dict[str, str], now: dt.datetime) -> LogOptions:
    """The kubelet's log options from a query string; `BadRequest` names a wrong one."""
    since = None
    since_seconds = _integer(query, "sinceSeconds", 1)
    if since_seconds is not None:
        since = now - dt.timedelta(seconds=since_seconds)
    since_time = query.get("sinceTime")
    if since_time:
        try:
            since = dt.datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"sinceTime: {since_time!r} is not an RFC 3339 time") from None
    return LogOptions(
        timestamps=query.get("timestamps", "").lower() in _TRUE,
        tail_lines=_integer(query, "tailLines", 0),
        limit_bytes=_integer(query, "limitBytes", 1),
        since=since,
    )


def _pick_log(container: Container, pod: str, previous: bool) -> ContainerLog:
    state = container.state
    if previous:
        log = container.logs.get(state.restart_count - 1)
        if log is None:
            raise BadRequest(
                f'previous terminated container "{state.name}" in pod "{pod}" not found'
            )
        return log
    log = container.current_log()
    if log is None:
        raise BadRequest(
            f'container "{state.name}" in pod "{pod}" is waiting to start: {state.waiting_reason}'
        )
    return log


class _Writer:
    """Writes rendered entries to the response, stopping at `limitBytes`."""

    def __init__(self, response: web.StreamResponse, options: LogOptions) -> None:
        self.response = response
        self.options = options
        self.left = options.limit_bytes

    @property
    def full(self) -> bool:
        return self.left is not None and self.left <= 0

    async def write(self, entries: list[Entry]) -> None:
        for entry in entries:
            if self.full:
                return
            data = entry.render(self.options.timestamps)
            if self.left is not None:
                data = data[: self.left]
                self.left -= len(data)
            await self.response.write(data)


async def _stream(
    request: web.Request, log: ContainerLog, options: LogOptions, follow: bool
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    writer = _Writer(response, options)
    version, closed = log.version, log.closed
    entries, offset = read(log.path, options)
    await writer.write(tail(entries, options.tail_lines))
    while follow and not closed and not writer.full:
        await log.wait_past(version)
        version, closed = log.version, log.closed
        entries, offset = read(log.path, options, offset)
        await writer.write(entries)
    await response.write_eof()
    return response


def create_app(lookup: PodLookup, is_ready: Callable[[], bool]) -> web.Application:
    async def container_logs(request: web.Request) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        pod_name = request.match_info["pod"]
        name = request.match_info["container"]
        query = dict(request.query)
        worker = lookup(namespace, pod_name)
        if worker is None:
            raise web.HTTPNotFound(text=f'pod "{namespace}/{pod_name}" is not on this node')
        container = worker.container(name)
        if container is None:
            raise web.HTTPNotFound(text=f'container "{name}" is not in pod "{pod_name}"')
        try:
            options = parse_options(query, dt.datetime.now(dt.UTC))
            log = _pick_log(container, pod_name, query.get("previous", "").lower() in _TRUE)
        except BadRequest as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        follow = query.get("follow", "").lower() in _TRUE
        return await _stream(request, log, options, follow)

    async def healthz(request: web.Request) -> web.Response:
        if is_ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="node agent not synced yet")

    async def unsupported(request: web.Request) -> web.Response:
        raise web.HTTPNotFound(text=f"{request.path}: not provided by the pod simulator")

    app = web.Application()
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", container_logs)
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", unsupported)
    return app


def server_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """TLS with our certificate, requiring a client certificate of the sandbox CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    return context

"""`add_webhook(manager, port, cert_dir)`: serve the webhook on a manager, over TLS.

The webhook is one of the manager's servers, so it listens from the manager's first
start-up step on, on every replica, leader or not. Its certificate is loaded before
anything starts (a missing or broken pair stops the operator with an error naming
`--webhook-cert-dir`) and then watched for changes while the server runs (see
`certificates`). `/readyz` gets a `webhook` check that completes a TLS handshake with
the server, so a replica is only Ready once its webhook answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from odoo_operator.runtime.manager import ConfigurationError, Manager
from odoo_operator.runtime.server import HttpServer
from odoo_operator.webhook.app import admissions_counter, webhook_app
from odoo_operator.webhook.certificates import CertificateError, ReloadingCertificate

LOOPBACK = "127.0.0.1"


async def _handshake(server: HttpServer) -> None:
    """Raises unless a TLS handshake with the server completes."""
    if server.port is None:
        raise RuntimeError("webhook server not listening yet")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # liveness of our own listener, not its identity
    _, writer = await asyncio.open_connection(
        server.address.host or LOOPBACK, server.port, ssl=context
    )
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


def add_webhook(manager: Manager, port: int, cert_dir: Path) -> HttpServer | None:
    """Serve the webhook on `:port` with the pair in `cert_dir`; port 0 serves nothing."""
    if port == 0:
        return None
    certificate = ReloadingCertificate(cert_dir)
    try:
        certificate.load()
    except CertificateError as error:
        raise ConfigurationError(str(error)) from None

    async def watch_certificate(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(certificate.watch(), name="webhook certificate watch")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app = webhook_app(admissions_counter(manager.metrics.registry))
    app.cleanup_ctx.append(watch_certificate)
    server = manager.add_server("webhook", f":{port}", app, ssl_context=certificate.server_context)
    assert server is not None  # a port other than 0 always gives a server

    async def webhook_answers() -> None:
        await _handshake(server)

    manager.add_ready_check("webhook", webhook_answers)
    return server

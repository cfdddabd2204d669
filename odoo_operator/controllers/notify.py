"""Webhook notifications (SPEC §3): JSON POSTs sent in the background, never in the way.

The OdooInstance reconciler sends one on every phase change and the job resources send one
when they finish; both use one `Notifier`, registered with the manager as a runnable.

Guarantees:
- `notify()` never blocks and never raises: it queues the notification and returns; when
  `max_pending` notifications are already waiting, the new one is dropped and logged;
- each POST has a `timeout` (10 s); a failure (no answer, a connection error, a non-2xx
  status) is retried after 1, 2, 4, 8 s (`attempts` tries in all), without holding one of
  the `concurrency` sending slots while it waits, so a dead receiver delays only its own
  notifications;
- the bearer token is `webhook.token`, or the key of the Secret named by
  `secretTokenSecretRef` (in the resource's namespace, read when sending; it wins); a
  missing Secret or key sends without a token and says so in the log;
- logs name the receiver by scheme, host and port only (a URL may carry credentials) and
  never show the token;
- `stop()` waits up to `grace` seconds for what is in flight, then cancels the rest.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from odoo_operator.api.base import WebhookSpec
from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.resources import SECRETS

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notification:
    webhook: WebhookSpec
    namespace: str  # where secretTokenSecretRef is looked up
    payload: Mapping[str, Any]


def receiver(url: str) -> str:
    """`https://host:port` of a URL, for logs (no path, query or credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class Notifier:
    def __init__(
        self,
        client: KubeClient | None,
        *,
        timeout: float = 10.0,
        attempts: int = 5,
        first_retry: float = 1.0,
        concurrency: int = 8,
        max_pending: int = 1000,
        grace: float = 5.0,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.attempts = attempts
        self.first_retry = first_retry
        self.max_pending = max_pending
        self.grace = grace
        self._slots = asyncio.Semaphore(concurrency)
        self._pending: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def stop(self) -> None:
        if self._pending:
            _, late = await asyncio.wait(self._pending, timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def notify(self, notification: Notification) -> None:
        """Queue `notification`; returns at once."""
        where = receiver(notification.webhook.url)
        if self._session is None:
            _log.warning("notification dropped: notifier not running", receiver=where)
            return
        if len(self._pending) >= self.max_pending:
            _log.warning("notification dropped: too many pending", receiver=where)
            return
        task = asyncio.create_task(self._deliver(notification), name=f"notify {where}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _token(self, notification: Notification) -> str | None:
        webhook = notification.webhook
        reference = webhook.secret_token_secret_ref
        if reference is None or self.client is None:
            return webhook.token
        try:
            secret = await self.client.get(SECRETS, reference.name, notification.namespace)
        except ApiError as error:
            _log.warning(
                "webhook token Secret unreadable; sending without a token",
                secret=reference.name,
                error=error.reason or str(error.status),
            )
            return None
        encoded = (secret.get("data") or {}).get(reference.key)
        if encoded is None:
            _log.warning(
                "webhook token Secret has no such key; sending without a token",
                secret=reference.name,
                key=reference.key,
            )
            return None
        return base64.b64decode(encoded).decode().strip()

    async def _post(self, notification: Notification, token: str | None) -> str | None:
        """One attempt: None when delivered, else what went wrong."""
        assert self._session is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with (
                self._slots,
                self._session.post(
                    notification.webhook.url, json=dict(notification.payload), headers=headers
                ) as response,
            ):
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return type(error).__name__

    async def _deliver(self, notification: Notification) -> None:
        where = receiver(notification.webhook.url)
        token = await self._token(notification)
        delay = self.first_retry
        for attempt in range(1, self.attempts + 1):
            problem = await self._post(notification, token)
            if problem is None:
                _log.debug("notification delivered", receiver=where, attempt=attempt)
                return
            if attempt == self.attempts:
                _log.warning(
                    "notification not delivered; giving up",
                    receiver=where,
                    attempts=attempt,
                    problem=problem,
                )
                return
            _log.info("notification failed; retrying", receiver=where, problem=problem)
            await asyncio.sleep(delay)
            delay *= 2

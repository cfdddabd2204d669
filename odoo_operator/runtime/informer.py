"""An informer: list, then watch, one kind in one scope, into a cache; tells handlers.

Guarantees (client-go's reflector, made explicit):
- the first list is paginated and consistent; then a watch starts from the list's
  resourceVersion with bookmarks and a server timeout drawn from `watch_timeout_range`
  (5-10 min); when a stream ends it reopens from the last version seen (event or bookmark);
- 410 Gone (on the watch request or as an ERROR event) relists at once; a relist
  delivers objects that vanished meanwhile as deletes and changed ones as updates;
- any other failure (connection refused or cut, 5xx, timeouts) retries after `Backoff`
  (0.8 s doubling to 30 s, jittered, reset after 2 min without failures), forever;
- an inactivity watchdog: a stream silent for `watchdog_timeout` (70 s) is closed and
  reopened at once from the last version; a watch request that got no answer at all in
  that time is retried after the backoff. A stalled connection can never freeze the cache;
- `managedFields` are stripped and objects frozen before they are cached or handed out;
- a handler that raises is logged and the informer carries on;
- handlers run in event order, one event at a time; handlers added after the first sync
  first receive every cached object as an add.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import structlog

from odoo_operator.runtime.backoff import Backoff
from odoo_operator.runtime.cache import IndexFunction, Lister, Store
from odoo_operator.runtime.client import ApiError, KubeClient, api_error_from_body
from odoo_operator.runtime.logs import describe_error
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import (
    KubeObject,
    freeze,
    key_of,
    resource_version,
    strip_managed_fields,
)
from odoo_operator.runtime.resources import Resource

_log = structlog.get_logger(__name__)


class EventHandler(Protocol):
    """Receives cache changes; must be quick (map to keys, enqueue) and not block."""

    def on_add(self, obj: KubeObject) -> None: ...

    def on_update(self, old: KubeObject, new: KubeObject) -> None: ...

    def on_delete(self, obj: KubeObject) -> None: ...


@dataclass(frozen=True)
class InformerOptions:
    watchdog_timeout: float = 70.0
    watch_timeout_range: tuple[int, int] = (300, 600)
    page_size: int = 500
    resync_period: float | None = None
    backoff_initial: float = 0.8
    backoff_cap: float = 30.0
    backoff_reset_after: float = 120.0
    # Liveness: an informer that has not heard from the API server for this long is unhealthy.
    stale_after: float = 300.0


class _Gone(Exception):
    """The version we watch from is no longer in the server's history: relist."""


class _Restart(Exception):
    """The stream was closed on purpose (watchdog or `restart_watch`)."""

    def __init__(self, reason: str, *, answered: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answered = answered  # the server had answered the watch request (200)


class Informer:
    """List+watch of one `Resource` in one namespace (None: all) with one label selector."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        options: InformerOptions | None = None,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace if resource.namespaced else None
        self.label_selector = label_selector
        self.options = options or InformerOptions()
        self.store = Store()
        self.lister = Lister(self.store)
        self.metrics = metrics
        self._clock = clock
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._resource_version: str | None = None
        self._restart_reason: str | None = None
        self._timeout_scope: asyncio.Timeout | None = None
        self.last_activity = clock()
        self._log = _log.bind(resource=str(resource), namespace=self.namespace or "*")
        # The activity gauge is set on every event: its child is looked up once.
        self._activity = None
        if metrics is not None:  # the counters exist at 0 from the start, not at first use
            metrics.informer_lists.labels(str(resource), self.scope)
            metrics.informer_bookmarks.labels(str(resource), self.scope)
            self._activity = metrics.informer_activity.labels(str(resource), self.scope)

    # -- public surface -------------------------------------------------------------

    @property
    def scope(self) -> str:
        return self.namespace or "*"

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self, within: float | None = None) -> bool:
        """True once the first list is in the cache; False if `within` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def add_handler(self, handler: EventHandler) -> None:
        self._handlers.append(handler)
        if self.has_synced:
            for obj in self.store.values():
                self._call(handler.on_add, obj)

    def add_index(self, name: str, function: IndexFunction) -> None:
        self.store.add_index(name, function)

    def resync(self) -> None:
        """Deliver every cached object to the handlers again, as an update to itself."""
        for obj in self.store.values():
            self._dispatch_update(obj, obj)

    def restart_watch(self) -> None:
        """Close the current watch stream now; it reopens from the last version seen."""
        self._interrupt("forced")

    @property
    def resource_version(self) -> str | None:
        """The version the next watch starts from (None: the next step is a list)."""
        return self._resource_version

    def stale_for(self) -> float:
        """Seconds since the informer last heard from the API server."""
        return self._clock() - self.last_activity

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        """List and watch until cancelled; never returns otherwise."""
        backoff = Backoff(
            self.options.backoff_initial,
            self.options.backoff_cap,
            reset_after=self.options.backoff_reset_after,
            clock=self._clock,
        )
        resync = (
            asyncio.create_task(self._resync_loop(self.options.resync_period))
            if self.options.resync_period
            else None
        )
        self._log.debug("informer starting")
        try:
            while True:
                try:
                    if self._resource_version is None:
                        await self._list()
                    await self._watch()
                except _Gone:
                    self._restarted("gone")
                    self._resource_version = None
                except _Restart as restart:
                    self._restarted(restart.reason)
                    if not restart.answered:  # a stalled connect/request: back off
                        await asyncio.sleep(backoff.next_delay())
                except (ApiError, aiohttp.ClientError, TimeoutError, OSError) as error:
                    self._restarted("error")
                    delay = backoff.next_delay()
                    self._log.warning(
                        "list/watch failed; retrying", error=describe_error(error), delay=delay
                    )
                    await asyncio.sleep(delay)
                except Exception:
                    self._restarted("error")
                    delay = backoff.next_delay()
                    self._log.exception("list/watch failed unexpectedly; retrying", delay=delay)
                    await asyncio.sleep(delay)
        finally:
            if resync is not None:
                resync.cancel()

    async def _resync_loop(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            if self.has_synced:
                self.resync()

    def _interrupt(self, reason: str) -> None:
        scope = self._timeout_scope
        if scope is not None and not scope.expired():
            self._restart_reason = reason
            scope.reschedule(asyncio.get_running_loop().time())

    def _touch(self) -> None:
        self.last_activity = self._clock()
        if self._activity is not None:
            self._activity.set(time.time())

    def _restarted(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.watch_restarts.labels(str(self.resource), self.scope, reason).inc()
        self._log.debug("watch restarting", reason=reason)

    # -- list -----------------------------------------------------------------------

    async def _list(self) -> None:
        """A paginated list, applied page by page; vanished objects become deletes."""
        if self.metrics is not None:
            self.metrics.informer_lists.labels(str(self.resource), self.scope).inc()
        seen: set[Any] = set()
        continue_token: str | None = None
        while True:
            page = await self.client.list(
                self.resource,
                self.namespace,
                label_selector=self.label_selector,
                limit=self.options.page_size,
                continue_token=continue_token,
            )
            self._touch()
            for item in page.get("items") or ():
                item["apiVersion"] = self.resource.api_version
                item["kind"] = self.resource.kind
                obj = freeze(strip_managed_fields(item))
                seen.add(key_of(obj))
                self._apply(obj)
            metadata = page.get("metadata") or {}
            continue_token = metadata.get("continue") or None
            if continue_token is None:
                break
        for key in set(self.store.keys()) - seen:
            gone = self.store.delete(key)
            if gone is not None:
                self._dispatch_delete(gone)
        self._resource_version = str(metadata["resourceVersion"])
        if not self.has_synced:
            self._log.info("informer synced", objects=len(self.store))
        self._synced.set()

    def _apply(self, obj: KubeObject) -> None:
        old = self.store.put(obj)
        if old is None:
            self._dispatch_add(obj)
        elif resource_version(old) != resource_version(obj):
            self._dispatch_update(old, obj)

    # -- watch ----------------------------------------------------------------------

    async def _watch(self) -> None:
        """One watch stream, until it ends; raises `_Gone` or `_Restart` as needed."""
        low, high = self.options.watch_timeout_range
        server_timeout = random.randint(low, high)  # noqa: S311 - spreading, not secrecy
        query: dict[str, str | int | bool] = {
            "watch": True,
            "resourceVersion": self._resource_version or "",
            "allowWatchBookmarks": True,
            "timeoutSeconds": server_timeout,
        }
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        http_timeout = aiohttp.ClientTimeout(
            total=server_timeout + self.options.watchdog_timeout + 30,
            sock_connect=self.client.request_timeout,
        )
        path = self.resource.path(self.namespace)
        loop = asyncio.get_running_loop()
        watchdog = self.options.watchdog_timeout
        started = self._clock()
        events = 0
        answered = False
        response: aiohttp.ClientResponse | None = None
        scope = asyncio.timeout(watchdog)
        try:
            async with scope:
                self._timeout_scope = scope
                self._restart_reason = None
                response = await self.client.send(
                    "GET", path, query=query, request_timeout=http_timeout
                )
                if response.status != 200:
                    body = await response.read()
                    error = api_error_from_body(response.status, body, "GET", path)
                    if error.gone:
                        raise _Gone()
                    raise error
                answered = True
                self._touch()
                while True:
                    line = await response.content.readline()
                    if not line:
                        break
                    scope.reschedule(loop.time() + watchdog)
                    self._touch()
                    events += 1
                    self._handle_line(line)
        except TimeoutError:
            if scope.expired():
                reason = self._restart_reason or "watchdog"
                raise _Restart(reason, answered=answered) from None
            raise
        finally:
            self._timeout_scope = None
            if response is not None:
                response.close()
        if events == 0 and self._clock() - started < 1.0:
            raise aiohttp.ServerDisconnectedError("watch stream closed at once")
        self._restarted("closed")

    def _handle_line(self, line: bytes) -> None:
        event = json.loads(line)
        kind = event.get("type")
        raw = event.get("object") or {}
        if kind == "ERROR":
            if raw.get("code") == 410:
                raise _Gone()
            raise ApiError(
                int(raw.get("code") or 500),
                str(raw.get("reason") or ""),
                str(raw.get("message") or ""),
                "WATCH",
                self.resource.path(self.namespace),
            )
        version = str(raw.get("metadata", {}).get("resourceVersion", ""))
        if kind == "BOOKMARK":
            if self.metrics is not None:
                self.metrics.informer_bookmarks.labels(str(self.resource), self.scope).inc()
        elif kind in ("ADDED", "MODIFIED"):
            self._apply(freeze(strip_managed_fields(raw)))
        elif kind == "DELETED":
            obj = freeze(strip_managed_fields(raw))
            self.store.delete(key_of(obj))
            self._dispatch_delete(obj)
        else:
            self._log.warning("unknown watch event type ignored", type=kind)
            return
        if version:
            self._resource_version = version

    # -- handlers -------------------------------------------------------------------

    def _call(self, function: Callable[..., None], *args: KubeObject) -> None:
        try:
            function(*args)
        except Exception:
            self._log.exception("event handler failed", handler=repr(function))

    def _dispatch_add(self, obj: KubeObject) -> None:
        for handler in self._handlers:
            self._call(handler.on_add, obj)

    def _dispatch_update(self, old: KubeObject, new: KubeObject) -> None:
        for handler in self._handlers:
            self._call(handler.on_update, old, new)

    def _dispatch_delete(self, obj: KubeObject) -> None:
        for handler in self._handlers:
            self._call(handler.on_delete, obj)


def describe(informers: Iterable[Informer]) -> str:
    return ", ".join(f"{informer.resource}@{informer.scope}" for informer in informers)

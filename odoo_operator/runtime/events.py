"""Kubernetes Events (events.k8s.io/v1), recorded in the background and aggregated.

Guarantees:
- `record()` never blocks and never raises: events go through a bounded queue to
  `senders` background senders (8: at most that many requests at once, so a burst of
  events, one or two per instance, keeps up with the reconciles); when the queue is full
  the oldest queued event is dropped (its series forgotten), when the server refuses one
  it is dropped; both are logged and counted (`event_recorder_dropped_total`). A
  reconcile never waits on events, and the backlog never holds more than `queue_size`;
- identical events (same object uid, type, reason, action and note) are aggregated as
  client-go does: the first one creates an Event, the second sets `series.count = 2`,
  later ones only count up in memory and are written at most once per
  `series_interval` (and when the recorder stops); a series' count is written after its
  Event was created and one write at a time, so the server never goes back to an older
  count. After `series_window` without a repeat the series ends; the next occurrence
  creates a new Event;
- `eventTime` and `series.lastObservedTime` are MicroTime with six fractional digits;
- `note` is cut to the API's 1 kB limit. Callers must not put secrets in notes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import KubeObject, micro_time
from odoo_operator.runtime.resources import EVENTS

_log = structlog.get_logger(__name__)

EventType = Literal["Normal", "Warning"]
NOTE_LIMIT = 1024


@dataclass
class _Series:
    name: str
    namespace: str
    count: int
    last_seen: float
    written_count: int
    created: asyncio.Future[bool] = field(repr=False)
    writing: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


@dataclass(frozen=True)
class _Key:
    uid: str
    kind: str
    namespace: str
    name: str
    type: str
    reason: str
    action: str
    note: str


def _reference(obj: KubeObject) -> dict[str, Any]:
    metadata = obj["metadata"]
    reference = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": metadata["name"],
        "uid": metadata.get("uid", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
    if metadata.get("namespace"):
        reference["namespace"] = metadata["namespace"]
    return {key: value for key, value in reference.items() if value}


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        *,
        controller: str = "odoo-operator",
        instance: str = "",
        metrics: RuntimeMetrics | None = None,
        queue_size: int = 1000,
        senders: int = 8,
        series_interval: float = 30.0,
        series_window: float = 360.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.controller = controller
        self.instance = instance or controller
        self._metrics = metrics
        self._queue: asyncio.Queue[tuple[str, _Key, dict[str, Any]]] = asyncio.Queue(queue_size)
        self._series: dict[_Key, _Series] = {}
        self._series_interval = series_interval
        self._series_window = series_window
        self._clock = clock
        self._senders: list[asyncio.Task[None]] = []
        self._sender_count = senders
        self._flusher: asyncio.Task[None] | None = None

    def record(
        self,
        regarding: KubeObject,
        type: EventType,
        reason: str,
        note: str,
        *,
        action: str | None = None,
    ) -> None:
        """Queue an event about `regarding` (a cached or fetched object)."""
        try:
            self._record(regarding, type, reason, note, action or reason)
        except Exception:
            self._dropped("could not build the event")

    def _record(
        self, regarding: KubeObject, type: str, reason: str, note: str, action: str
    ) -> None:
        metadata = regarding["metadata"]
        note = (
            note
            if len(note.encode()) <= NOTE_LIMIT
            else note.encode()[: NOTE_LIMIT - 3].decode(errors="ignore") + "..."
        )
        key = _Key(
            str(metadata.get("uid", "")),
            str(regarding.get("kind", "")),
            str(metadata.get("namespace") or "default"),
            str(metadata["name"]),
            type,
            reason,
            action,
            note,
        )
        now = self._clock()
        series = self._series.get(key)
        if series is not None and now - series.last_seen < self._series_window:
            series.count += 1
            series.last_seen = now
            if series.count == 2:
                self._enqueue(("series", key, {}))
            return
        body: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{key.name}.{secrets.token_hex(8)}",
                "namespace": key.namespace,
            },
            "eventTime": micro_time(),
            "reportingController": self.controller,
            "reportingInstance": self.instance,
            "action": action,
            "reason": reason,
            "type": type,
            "note": note,
            "regarding": _reference(regarding),
        }
        created: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._series[key] = _Series(
            body["metadata"]["name"],
            key.namespace,
            1,
            now,
            1,
            created,
        )
        self._enqueue(("create", key, body))

    def _enqueue(self, item: tuple[str, _Key, dict[str, Any]]) -> None:
        if self._queue.full():
            operation, key, _ = self._queue.get_nowait()
            self._queue.task_done()
            if operation == "create":  # its series would wait for an Event never made
                series = self._series.pop(key, None)
                if series is not None and not series.created.done():
                    series.created.set_result(False)
            self._dropped("event queue full: the oldest queued event dropped", reason=key.reason)
        self._queue.put_nowait(item)

    def _dropped(self, why: str, **context: Any) -> None:
        _log.warning("event dropped", why=why, **context)
        if self._metrics is not None:
            self._metrics.events_dropped.inc()

    # -- background -----------------------------------------------------------------

    def start(self) -> None:
        self._senders = [
            asyncio.create_task(self._send_loop(), name=f"event sender {number}")
            for number in range(self._sender_count)
        ]
        self._flusher = asyncio.create_task(self._flush_loop(), name="event series flusher")

    async def stop(self, grace: float = 5.0) -> None:
        """Send what is queued and the pending series counts (within `grace` s), then stop."""
        if self._flusher is not None:
            self._flusher.cancel()
        try:
            async with asyncio.timeout(grace):
                self._queue_series_updates()
                await self._queue.join()
        except TimeoutError:
            _log.warning("events still unsent at shutdown", count=self._queue.qsize())
        for sender in self._senders:
            sender.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)

    async def flush(self) -> None:
        """Write pending series counts now and wait until everything queued is sent."""
        self._queue_series_updates()
        await self._queue.join()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._series_interval)
            self._queue_series_updates()

    def _queue_series_updates(self) -> None:
        now = self._clock()
        for key, series in list(self._series.items()):
            if series.count > series.written_count:
                self._enqueue(("series", key, {}))
            elif now - series.last_seen >= self._series_window:
                del self._series[key]  # nothing left to write: the series is over

    async def _send_loop(self) -> None:
        while True:
            operation, key, body = await self._queue.get()
            try:
                await self._send(operation, key, body)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._dropped("the API server refused it", error=str(error), reason=key.reason)
            finally:
                self._queue.task_done()

    async def _send(self, operation: str, key: _Key, body: dict[str, Any]) -> None:
        if operation == "create":
            series = self._series.get(key)
            try:
                await self.client.create(EVENTS, body)
            finally:
                if series is not None and not series.created.done():
                    series.created.set_result(True)
            return
        series = self._series.get(key)
        if series is None or series.count <= series.written_count:
            return
        if not await series.created:
            return
        async with series.writing:
            count = series.count
            if count <= series.written_count:
                return
            patch = {"series": {"count": count, "lastObservedTime": micro_time()}}
            try:
                await self.client.merge_patch(EVENTS, series.name, patch, series.namespace)
            except ApiError as error:
                if error.not_found:  # the Event was deleted or expired: start a new series
                    self._series.pop(key, None)
                    return
                raise
            series.written_count = count

"""A work queue with client-go's guarantees, for one asyncio event loop.

- Fair: keys are handed out in the order they were first added.
- Stingy: a key added many times before a worker takes it is handed out once.
- One at a time: a key is never handed to two workers at once. A key added while a
  worker holds it is handed out once more after `done()`, never before.
- Shutdown: after `shut_down()`, `add` is ignored and `get` raises `ShutDown` for
  every waiting and later caller, even if keys are still queued (a stopping
  controller starts no new work); `done` still works for keys in flight.

Keys are any hashable value (controllers use `ObjectKey`). `add`, `done` and
`get_nowait` are plain calls, so informer handlers can enqueue without awaiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from odoo_operator.runtime.metrics import RuntimeMetrics

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue is shut down: nothing more will be handed out."""


class QueueEmpty(Exception):
    """`get_nowait` found nothing to hand out."""


class WorkQueue(Generic[T]):
    def __init__(
        self,
        name: str = "",
        *,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: dict[T, float] = {}  # key -> when a worker took it
        self._added_at: dict[T, float] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._metrics = metrics
        self._clock = clock
        if metrics is not None and name:
            metrics.register_queue(name, self)

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        self._added_at[item] = self._clock()
        if self._metrics is not None:
            self._metrics.queue_adds.labels(self.name).inc()
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def get_nowait(self) -> T:
        if self._shutting_down:
            raise ShutDown()
        if not self._queue:
            raise QueueEmpty()
        item = self._queue.popleft()
        now = self._clock()
        self._processing[item] = now
        self._dirty.discard(item)
        added = self._added_at.pop(item, now)
        if self._metrics is not None:
            self._metrics.queue_duration.labels(self.name).observe(now - added)
        return item

    async def get(self) -> T:
        """The next key; waits while the queue is empty. Raises `ShutDown`."""
        while True:
            try:
                return self.get_nowait()
            except QueueEmpty:
                pass
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Pass on a wake-up this cancelled waiter received, so no key is stranded.
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                raise

    def done(self, item: T) -> None:
        """The worker has finished with `item`; re-queue it if it was added meanwhile."""
        started = self._processing.pop(item, None)
        if started is not None and self._metrics is not None:
            self._metrics.work_duration.labels(self.name).observe(self._clock() - started)
        if item in self._dirty and not self._shutting_down:
            self._queue.append(item)
            self._wake_one()

    def shut_down(self) -> None:
        self._shutting_down = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def __len__(self) -> int:
        """Keys waiting to be handed out (not counting those in flight)."""
        return len(self._queue)

    def processing(self) -> set[T]:
        return set(self._processing)

    def processing_since(self) -> Iterable[float]:
        return list(self._processing.values())

    def idle(self) -> bool:
        """Nothing queued and nothing in flight."""
        return not self._queue and not self._processing

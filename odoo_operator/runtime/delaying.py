"""A work queue that can also take a key later: `add_after(key, delay)`.

Guarantees (client-go's delaying queue):
- a key added with a delay is not handed out before the delay has passed, and is added
  (with the work queue's rules) as soon as the `run()` loop sees it due;
- while a key waits, a second `add_after` keeps the earlier of the two times;
- a delay <= 0 is a plain `add`; a plain `add` does not cancel a waiting delayed add;
- after `shut_down()` delayed adds are dropped and `run()` returns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.workqueue import T, WorkQueue


class DelayingQueue(WorkQueue[T]):
    def __init__(
        self,
        name: str = "",
        *,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, metrics=metrics, clock=clock)
        self._heap: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def add_after(self, item: T, delay: float) -> None:
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready = self._clock() + delay
        current = self._ready_at.get(item)
        if current is not None and current <= ready:
            return
        self._ready_at[item] = ready
        heapq.heappush(self._heap, (ready, next(self._sequence), item))
        self._changed.set()

    def waiting(self) -> int:
        """Keys waiting for their delay to pass."""
        return len(self._ready_at)

    def release_due(self) -> float | None:
        """Add every key whose time has come; return when the next one is due (or None)."""
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            ready, _, item = heapq.heappop(self._heap)
            if self._ready_at.get(item) == ready:  # else a stale entry, superseded earlier
                del self._ready_at[item]
                self.add(item)
        return self._heap[0][0] if self._heap else None

    async def run(self) -> None:
        """Move due keys into the queue until shut down."""
        while not self.shutting_down:
            self._changed.clear()
            next_ready = self.release_due()
            delay = None if next_ready is None else max(0.0, next_ready - self._clock())
            try:
                async with asyncio.timeout(delay):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def shut_down(self) -> None:
        super().shut_down()
        self._heap.clear()
        self._ready_at.clear()
        self._changed.set()

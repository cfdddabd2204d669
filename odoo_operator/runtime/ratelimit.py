"""Retry delays for failed keys, and the queue that applies them.

- `ExponentialFailureRateLimiter`: per key, base * 2^failures, capped (5 ms -> 1000 s).
- `BucketRateLimiter`: one token bucket for all keys (10/s, burst 100): past the burst,
  retries are spread out at the bucket's rate whatever the per-key delays say.
- `MaxOfRateLimiter`: the largest delay of its limiters; `forget` forgets in all.
- `RateLimitingQueue.add_rate_limited` re-adds a key after its limiter's delay;
  `forget` resets the key's backoff (controllers call it on success and requeue-after).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Protocol

from odoo_operator.runtime.delaying import DelayingQueue
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.workqueue import T


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ExponentialFailureRateLimiter:
    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures >= 64:  # 2^64 * base is far past any cap; avoid huge floats
            return self.cap
        return float(min(self.base * 2**failures, self.cap))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket: `when` reserves a token and returns how long until it is there."""

    def __init__(
        self, rate: float = 10.0, burst: int = 100, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, item: Hashable) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return max(0.0, -self._tokens / self.rate)

    def forget(self, item: Hashable) -> None:
        """Tokens are shared by all keys: nothing to forget."""

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    clock: Callable[[], float] = time.monotonic,
) -> MaxOfRateLimiter:
    """controller-runtime's default: per-key 5 ms -> 1000 s, overall 10/s burst 100."""
    return MaxOfRateLimiter(
        ExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100, clock)
    )


class RateLimitingQueue(DelayingQueue[T]):
    def __init__(
        self,
        name: str = "",
        *,
        rate_limiter: RateLimiter | None = None,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, metrics=metrics, clock=clock)
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(clock)

    def add_rate_limited(self, item: T) -> None:
        if self.shutting_down:
            return
        if self._metrics is not None and self.name:
            self._metrics.queue_retries.labels(self.name).inc()
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

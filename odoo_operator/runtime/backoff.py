"""Reconnect delays for informers: exponential with jitter, forgotten after a healthy spell.

client-go's reflector backoff, stated as guarantees:
- the n-th consecutive delay lies in [b, min(2b, cap)] with b = min(initial * 2^(n-1), cap)
  (jitter 1.0 spreads reconnecting clients apart, the cap holds even with jitter);
- when the previous failure is at least `reset_after` in the past, the sequence starts
  again from `initial` (a long-healthy connection that breaks retries quickly).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    def __init__(
        self,
        initial: float = 0.8,
        cap: float = 30.0,
        *,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"backoff: need 0 < initial ({initial}) <= cap ({cap})")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._base = initial
        self._last_failure: float | None = None

    def next_delay(self) -> float:
        """Record a failure now and return how long to wait before the next attempt."""
        now = self._clock()
        if self._last_failure is None or now - self._last_failure >= self.reset_after:
            self._base = self.initial
        self._last_failure = now
        base = self._base
        self._base = min(self._base * self.factor, self.cap)
        return min(base * (1.0 + self.jitter * self._rng.random()), self.cap)

"""The retry delays: per-key exponential backoff, token bucket, their maximum."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo_operator.runtime.backoff import Backoff
from odoo_operator.runtime.ratelimit import (
    BucketRateLimiter,
    ExponentialFailureRateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
)
from odoo_operator.runtime.workqueue import QueueEmpty


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@given(st.integers(min_value=1, max_value=80))
def test_per_key_backoff_doubles_from_5ms_to_1000s(failures: int) -> None:
    limiter = ExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [limiter.when("k") for _ in range(failures)]
    assert delays == [min(0.005 * 2**n, 1000.0) for n in range(failures)]
    assert limiter.num_requeues("k") == failures
    assert limiter.when("other") == 0.005  # keys are independent
    limiter.forget("k")
    assert limiter.when("k") == 0.005  # forget resets the backoff


@given(st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=400))
def test_bucket_never_grants_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    """Whatever the call times, reservations become ready no faster than 10/s after 100."""
    clock = FakeClock()
    bucket = BucketRateLimiter(10.0, 100, clock)
    start = clock.now
    ready_times = []
    for gap in gaps:
        clock.now += gap
        ready_times.append(clock.now + bucket.when("any"))
    ready_times.sort()
    for count, ready in enumerate(ready_times, start=1):
        assert count <= 100 + 10.0 * (ready - start) + 1e-6


def test_bucket_burst_then_one_every_100ms() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(10.0, 100, clock)
    delays = [bucket.when(n) for n in range(103)]
    assert delays[:100] == [0.0] * 100
    assert [round(d, 6) for d in delays[100:]] == [0.1, 0.2, 0.3]


def test_default_limiter_is_the_larger_of_both() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    # One key failing repeatedly: the per-key backoff dominates.
    assert [limiter.when("k") for _ in range(3)] == [0.005, 0.01, 0.02]
    # Many keys at once: past the burst the bucket dominates the 5 ms first retry.
    delays = [limiter.when(n) for n in range(200)]
    assert max(delays) >= 9.9
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0


def test_rate_limited_adds_wait_and_forget_resets() -> None:
    clock = FakeClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
    for expected in (0.005, 0.01, 0.02):
        start = clock.now
        queue.add_rate_limited("k")
        clock.now = start + expected * 0.9
        queue.release_due()
        with pytest.raises(QueueEmpty):
            queue.get_nowait()  # not before its backoff has passed
        clock.now = start + expected
        queue.release_due()
        assert queue.get_nowait() == "k"
        queue.done("k")
    assert queue.num_requeues("k") == 3
    queue.forget("k")
    assert queue.num_requeues("k") == 0


@given(st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=40), st.integers())
def test_reconnect_backoff_bounds_and_reset(gaps: list[float], seed: int) -> None:
    """n-th consecutive delay in [b, min(2b, 30)], b = min(0.8 * 2^(n-1), 30); 2 min resets."""
    clock = FakeClock()
    backoff = Backoff(0.8, 30.0, reset_after=120.0, clock=clock, rng=random.Random(seed))  # noqa: S311
    streak = 0
    last_failure: float | None = None
    for gap in gaps:
        clock.now += gap
        if last_failure is not None and clock.now - last_failure >= 120.0:
            streak = 0
        base = min(0.8 * 2**streak, 30.0)
        delay = backoff.next_delay()
        assert base <= delay <= min(2 * base, 30.0)
        streak += 1
        last_failure = clock.now

"""Small helpers for the runtime tests: waiting for conditions, recording handler calls,
reading counters from a metrics registry (what an operator sees, not test-only state)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry

from odoo_operator.runtime.objects import KubeObject


async def eventually(
    condition: Callable[[], bool], within: float = 30.0, what: str = "condition"
) -> float:
    """Poll until `condition()` holds; return the seconds it took. Fails after `within` s."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} not reached within {within:.0f}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def eventually_equal(
    probe: Callable[[], Awaitable[object]], expected: object, within: float = 30.0
) -> None:
    """Await `probe()` until it returns `expected`. Fails after `within` seconds."""
    started = time.monotonic()
    while (value := await probe()) != expected:
        if time.monotonic() - started > within:
            raise AssertionError(f"expected {expected!r}, got {value!r} after {within:.0f}s")
        await asyncio.sleep(0.1)


def sample(registry: CollectorRegistry, metric: str, /, **labels: str) -> float:
    """The value of the sample `metric` with exactly `labels`; 0 when it was never counted."""
    value = registry.get_sample_value(metric, labels)
    return 0.0 if value is None else value


def total(registry: CollectorRegistry, metric: str, /, **labels: str) -> float:
    """The sum of the samples `metric` whose labels include `labels` (e.g. over every result)."""
    return sum(
        found.value
        for family in registry.collect()
        for found in family.samples
        if found.name == metric and labels.items() <= found.labels.items()
    )


class RecordingHandler:
    """An informer handler that writes down what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_add(self, obj: KubeObject) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, obj: KubeObject) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))

    def of(self, name: str) -> list[str]:
        return [kind for kind, seen in self.events if seen == name]

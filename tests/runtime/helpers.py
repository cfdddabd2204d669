"""Small helpers for the runtime tests: waiting for conditions, recording handler calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

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

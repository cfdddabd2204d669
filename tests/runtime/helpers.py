"""Small helpers for the runtime tests: waiting for conditions, recording handler calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from odoo_operator.runtime.objects import KubeObject


async def eventually(
    condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> float:
    """Poll until `condition()` holds; return the seconds it took. Fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


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

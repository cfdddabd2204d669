"""Shared informers: one per (kind, namespace scope, label selector), whoever asks.

Guarantees:
- `get()` returns the same `Informer` for the same key, so controllers that need the same
  kind share one list+watch and one cache;
- informers asked for after `start()` start at once (callers may `wait_for_sync`);
- `stop()` cancels every informer task and waits for them to end;
- an informer task that ends unexpectedly is reported through `failure` (the manager
  stops on it): a dead informer never goes unnoticed.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.informer import Informer, InformerOptions
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import Resource


class InformerKey(NamedTuple):
    resource: Resource
    namespace: str | None
    label_selector: str | None


class SharedInformers:
    def __init__(
        self,
        client: KubeClient,
        options: InformerOptions | None = None,
        metrics: RuntimeMetrics | None = None,
    ) -> None:
        self.client = client
        self.options = options or InformerOptions()
        self.metrics = metrics
        self._informers: dict[InformerKey, Informer] = {}
        self._tasks: dict[InformerKey, asyncio.Task[None]] = {}
        self._running = False
        self.failure: asyncio.Future[BaseException] | None = None

    def get(
        self, resource: Resource, namespace: str | None = None, label_selector: str | None = None
    ) -> Informer:
        key = InformerKey(resource, namespace if resource.namespaced else None, label_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.client,
                resource,
                key.namespace,
                label_selector=label_selector,
                options=self.options,
                metrics=self.metrics,
            )
            self._informers[key] = informer
            if self._running:
                self._start_one(key, informer)
        return informer

    def all(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._running = True
        self.failure = asyncio.get_running_loop().create_future()
        for key, informer in self._informers.items():
            if key not in self._tasks:
                self._start_one(key, informer)

    def _start_one(self, key: InformerKey, informer: Informer) -> None:
        task = asyncio.create_task(informer.run(), name=f"informer {key.resource}@{key.namespace}")
        task.add_done_callback(self._task_ended)
        self._tasks[key] = task

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or not self._running:
            return
        error = task.exception() or RuntimeError(f"{task.get_name()} returned")
        if self.failure is not None and not self.failure.done():
            self.failure.set_result(error)

    async def wait_for_sync(self, within: float) -> list[Informer]:
        """Wait for every informer's first list; return those not synced in time."""
        informers = self.all()
        await asyncio.gather(*(informer.wait_for_sync(within) for informer in informers))
        return [informer for informer in informers if not informer.has_synced]

    def synced(self) -> bool:
        return all(informer.has_synced for informer in self._informers.values())

    def stale(self) -> list[Informer]:
        """Informers that have not heard from the API server for `stale_after`."""
        return [
            informer
            for informer in self._informers.values()
            if informer.stale_for() > informer.options.stale_after
        ]

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

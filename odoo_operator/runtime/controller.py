"""A controller: informer events -> a rate-limited work queue -> N reconciling workers.

Guarantees:
- `workers` reconciles run at most at once, and never two for the same key (the queue);
- every reconcile runs with `controller`, `namespace`, `name` and a fresh `reconcileID`
  bound in structlog's context, so every log line it writes carries them;
- outcomes follow `reconcile.py`'s table; an exception is a retried error, never a dead
  worker (a 409 Conflict, a write onto a version the cache had not caught up with, is
  logged at info without a traceback: optimistic concurrency at work, not a fault);
  reconcile counts, errors and durations go to the controller-runtime metrics;
- a controller has a primary kind (`for_`); one without refuses to start
  (`NoPrimaryKind`), so a controller that could never be triggered fails loudly;
- each source may take `ignore=` (see `handler.py`): adds and changes it returns True
  for enqueue nothing; deletions and resyncs always enqueue;
- sources (`for_`, `owns`, `watches`) are attached when the controller starts (after
  leader election), and each informer then replays its cache as adds, so a new leader
  reconciles everything once;
- `stop(grace)` starts no new reconcile, lets in-flight ones finish within `grace`
  seconds, then cancels what is left, and reports whether all finished.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.handler import (
    EnqueueMapped,
    Ignore,
    Mapper,
    controller_owner_key,
    object_key,
)
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.informers import SharedInformers
from odoo_operator.runtime.logs import describe_error
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.runtime.ratelimit import RateLimiter, RateLimitingQueue
from odoo_operator.runtime.reconcile import Reconciler, Result, TerminalError
from odoo_operator.runtime.resources import Resource
from odoo_operator.runtime.workqueue import ShutDown

_log = structlog.get_logger(__name__)


def _log_retried(error: Exception) -> None:
    if isinstance(error, ApiError) and error.conflict:
        _log.info("reconcile acted on a stale view; will retry", error=str(error))
    else:
        _log.exception("reconcile failed; will retry", error=describe_error(error))


class NoPrimaryKind(ValueError):
    """A controller was started without `for_()`: nothing would ever reconcile."""


@dataclass(frozen=True)
class _Source:
    informer: Informer
    mapper: Mapper
    ignore: Ignore | None = None


class Controller:
    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        informers: SharedInformers,
        *,
        workers: int = 1,
        namespace: str | None = None,
        rate_limiter: RateLimiter | None = None,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1:
            raise ValueError(f"controller {name}: workers must be >= 1, got {workers}")
        self.name = name
        self.reconciler = reconciler
        self.workers = workers
        self.namespace = namespace
        self.queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
            name, rate_limiter=rate_limiter, metrics=metrics, clock=clock
        )
        self.primary: Resource | None = None
        self._informers = informers
        self._sources: list[_Source] = []
        self._metrics = metrics
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._delay_task: asyncio.Task[None] | None = None
        self.failure: asyncio.Future[BaseException] | None = None
        if metrics is not None:
            metrics.max_concurrent.labels(name).set(workers)
            metrics.active_workers.labels(name).set(0)
            for result in ("success", "error", "requeue_after"):
                metrics.reconcile_total.labels(name, result)
            metrics.reconcile_errors.labels(name)
            metrics.terminal_errors.labels(name)

    # -- wiring ---------------------------------------------------------------------

    def _informer(self, source: Resource | Informer) -> Informer:
        if isinstance(source, Informer):
            return source
        return self._informers.get(source, self.namespace)

    def for_(self, source: Resource | Informer, *, ignore: Ignore | None = None) -> Controller:
        """The primary kind: each of its objects is reconciled under its own key."""
        if self.primary is not None:
            raise ValueError(f"controller {self.name}: for_() was already called")
        informer = self._informer(source)
        self.primary = informer.resource
        self._sources.append(_Source(informer, object_key, ignore))
        return self

    def owns(self, source: Resource | Informer, *, ignore: Ignore | None = None) -> Controller:
        """Children: an event on one reconciles its controller owner of the primary kind."""
        if self.primary is None:
            raise ValueError(f"controller {self.name}: call for_() before owns()")
        owner_key = controller_owner_key(self.primary)
        self._sources.append(_Source(self._informer(source), owner_key, ignore))
        return self

    def watches(
        self, source: Resource | Informer, mapper: Mapper, *, ignore: Ignore | None = None
    ) -> Controller:
        """Any other relation: `mapper` turns an object into the keys to reconcile."""
        self._sources.append(_Source(self._informer(source), mapper, ignore))
        return self

    def informers(self) -> list[Informer]:
        return [source.informer for source in self._sources]

    def enqueue(self, key: ObjectKey) -> None:
        self.queue.add(key)

    # -- running --------------------------------------------------------------------

    def check_sources(self) -> None:
        """Raise `NoPrimaryKind` unless `for_()` was called."""
        if self.primary is None:
            raise NoPrimaryKind(
                f"controller {self.name!r} has no primary kind: call .for_(kind) on it "
                "before the manager starts"
            )

    def start(self) -> None:
        self.check_sources()
        loop = asyncio.get_running_loop()
        self.failure = loop.create_future()
        for source in self._sources:
            source.informer.add_handler(EnqueueMapped(source.mapper, self.enqueue, source.ignore))
        self._delay_task = asyncio.create_task(self.queue.run(), name=f"{self.name} delays")
        for number in range(self.workers):
            task = asyncio.create_task(self._worker(), name=f"{self.name} worker {number}")
            task.add_done_callback(self._worker_ended)
            self._tasks.append(task)
        _log.info("controller started", controller=self.name, workers=self.workers)

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.queue.shutting_down:
            return
        error = task.exception() or RuntimeError(f"{task.get_name()} returned")
        if self.failure is not None and not self.failure.done():
            self.failure.set_result(error)

    def workers_alive(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def cancel_inflight(self) -> None:
        """Cancel running reconciles now (a second stop request, or the lease lost)."""
        for task in self._tasks:
            task.cancel()

    async def stop(self, grace: float) -> bool:
        """Start nothing new; wait up to `grace` s for in-flight reconciles; True if all ended."""
        self.queue.shut_down()
        finished = True
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=max(grace, 0.0))
            if pending:
                finished = False
                _log.warning(
                    "reconciles still running after the grace period; cancelling",
                    controller=self.name,
                    count=len(pending),
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if self._delay_task is not None:
            self._delay_task.cancel()
            await asyncio.gather(self._delay_task, return_exceptions=True)
        self._tasks.clear()
        return finished

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self._reconcile(key)
            finally:
                self.queue.done(key)

    async def _reconcile(self, key: ObjectKey) -> None:
        started = self._clock()
        result_label = "success"
        metrics = self._metrics
        if metrics is not None:
            metrics.active_workers.labels(self.name).inc()
        with structlog.contextvars.bound_contextvars(
            controller=self.name,
            namespace=key.namespace,
            name=key.name,
            reconcileID=str(uuid.uuid4()),
        ):
            try:
                result = await self.reconciler.reconcile(key)
                if not isinstance(result, Result):
                    raise TypeError(f"reconcile returned {result!r}, not a Result")
            except asyncio.CancelledError:
                result_label = "cancelled"
                _log.warning("reconcile cancelled (hard stop)")
                raise
            except TerminalError as error:
                result_label = "error"
                self.queue.forget(key)
                _log.error("reconcile failed; not retrying (terminal)", error=str(error))
                if metrics is not None:
                    metrics.terminal_errors.labels(self.name).inc()
            except Exception as error:
                result_label = "error"
                self.queue.add_rate_limited(key)
                _log_retried(error)
            else:
                self.queue.forget(key)
                if result.requeue_after is not None:
                    result_label = "requeue_after"
                    self.queue.add_after(key, result.requeue_after)
                _log.debug("reconciled", requeue_after=result.requeue_after)
            finally:
                if metrics is not None:
                    metrics.active_workers.labels(self.name).dec()
                if metrics is not None and result_label != "cancelled":
                    elapsed = self._clock() - started
                    metrics.reconcile_time.labels(self.name).observe(elapsed)
                    metrics.reconcile_total.labels(self.name, result_label).inc()
                    if result_label == "error":
                        metrics.reconcile_errors.labels(self.name).inc()

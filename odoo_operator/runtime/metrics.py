"""The runtime's Prometheus metrics, under controller-runtime's and client-go's names.

`METRICS` is the list, as data: docs/runtime.md renders it and a test scrapes
`/metrics` for every entry. Each `Manager` owns one `RuntimeMetrics` with its own
registry (two managers in one process do not collide); later code registers its own
metrics on `RuntimeMetrics.registry`. Queue gauges (depth, unfinished work, longest
running processor) are computed when scraped, so they are never stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MetricKind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    help: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "controller_runtime_reconcile_total",
        "counter",
        ("controller", "result"),
        "Reconciles per controller and result (success, error, requeue_after).",
    ),
    MetricSpec(
        "controller_runtime_reconcile_errors_total",
        "counter",
        ("controller",),
        "Reconciles that ended in an error (retried or terminal).",
    ),
    MetricSpec(
        "controller_runtime_terminal_reconcile_errors_total",
        "counter",
        ("controller",),
        "Reconciles that ended in a terminal error (not retried).",
    ),
    MetricSpec(
        "controller_runtime_reconcile_time_seconds",
        "histogram",
        ("controller",),
        "Time spent in each reconcile.",
    ),
    MetricSpec(
        "controller_runtime_max_concurrent_reconciles",
        "gauge",
        ("controller",),
        "Workers per controller.",
    ),
    MetricSpec(
        "controller_runtime_active_workers",
        "gauge",
        ("controller",),
        "Workers reconciling right now.",
    ),
    MetricSpec("workqueue_depth", "gauge", ("name",), "Keys waiting in the queue."),
    MetricSpec("workqueue_adds_total", "counter", ("name",), "Keys added to the queue."),
    MetricSpec(
        "workqueue_queue_duration_seconds",
        "histogram",
        ("name",),
        "Time a key waits in the queue before a worker takes it.",
    ),
    MetricSpec(
        "workqueue_work_duration_seconds",
        "histogram",
        ("name",),
        "Time a worker holds a key.",
    ),
    MetricSpec(
        "workqueue_retries_total",
        "counter",
        ("name",),
        "Rate-limited re-adds (retries after an error).",
    ),
    MetricSpec(
        "workqueue_unfinished_work_seconds",
        "gauge",
        ("name",),
        "Sum of the time in-flight keys have been held; grows if a worker is stuck.",
    ),
    MetricSpec(
        "workqueue_longest_running_processor_seconds",
        "gauge",
        ("name",),
        "How long the longest-held in-flight key has been held.",
    ),
    MetricSpec(
        "leader_election_master_status",
        "gauge",
        ("name",),
        "1 while this process holds the lease, else 0.",
    ),
    MetricSpec(
        "rest_client_requests_total",
        "counter",
        ("code", "method"),
        "Requests sent to the API server, by HTTP status (`<error>` without one) and method.",
    ),
    MetricSpec(
        "informer_lists_total",
        "counter",
        ("resource", "namespace"),
        "Full lists (the first one and every relist).",
    ),
    MetricSpec(
        "informer_bookmarks_total",
        "counter",
        ("resource", "namespace"),
        "Bookmarks received (the watch moved on without an event of its own).",
    ),
    MetricSpec(
        "informer_watch_restarts_total",
        "counter",
        ("resource", "namespace", "reason"),
        "Watch streams ended and reopened, by reason (closed, gone, watchdog, forced, error).",
    ),
    MetricSpec(
        "informer_last_activity_timestamp_seconds",
        "gauge",
        ("resource", "namespace"),
        "When the informer last heard from the API server (event, bookmark, list, watch start).",
    ),
    MetricSpec(
        "applier_applies_total",
        "counter",
        ("resource", "result"),
        "Server-side applies by resource (`<plural>.<group>`, `/status` for the status "
        "subresource) and result: `sent`, or `skipped` when the cache already held the body.",
    ),
    MetricSpec(
        "event_recorder_dropped_total",
        "counter",
        (),
        "Events not recorded (queue full or the API server refused them).",
    ),
)

SPECS = {spec.name: spec for spec in METRICS}

# controller-runtime's reconcile-time buckets; client-go's workqueue buckets (10 ns .. 10 s).
RECONCILE_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
    *(0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5),
    *(6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60),
)
QUEUE_BUCKETS = tuple(10.0**exponent for exponent in range(-8, 2))


class QueueState(Protocol):
    """What the scrape-time collector reads from a work queue."""

    def __len__(self) -> int: ...

    def processing_since(self) -> Iterable[float]: ...


class _QueueGauges(Collector):
    """workqueue_depth / unfinished_work / longest_running, read from live queues."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._queues: dict[str, QueueState] = {}
        self._clock = clock

    def register(self, name: str, queue: QueueState) -> None:
        self._queues[name] = queue

    def collect(self) -> Iterator[Metric]:
        families = {
            name: GaugeMetricFamily(name, SPECS[name].help, labels=["name"])
            for name in (
                "workqueue_depth",
                "workqueue_unfinished_work_seconds",
                "workqueue_longest_running_processor_seconds",
            )
        }
        now = self._clock()
        for name, queue in self._queues.items():
            held = [now - since for since in queue.processing_since()]
            families["workqueue_depth"].add_metric([name], len(queue))
            families["workqueue_unfinished_work_seconds"].add_metric([name], sum(held))
            families["workqueue_longest_running_processor_seconds"].add_metric(
                [name], max(held, default=0.0)
            )
        yield from families.values()


class RuntimeMetrics:
    """All runtime metrics, registered on one registry."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True
    ) -> None:
        self.registry = registry or CollectorRegistry()
        if process_metrics:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        r = self.registry
        self.reconcile_total = Counter(*self._doc("controller_runtime_reconcile_total"), registry=r)
        self.reconcile_errors = Counter(
            *self._doc("controller_runtime_reconcile_errors_total"), registry=r
        )
        self.terminal_errors = Counter(
            *self._doc("controller_runtime_terminal_reconcile_errors_total"), registry=r
        )
        self.reconcile_time = Histogram(
            *self._doc("controller_runtime_reconcile_time_seconds"),
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.max_concurrent = Gauge(
            *self._doc("controller_runtime_max_concurrent_reconciles"), registry=r
        )
        self.active_workers = Gauge(*self._doc("controller_runtime_active_workers"), registry=r)
        self.queue_adds = Counter(*self._doc("workqueue_adds_total"), registry=r)
        self.queue_duration = Histogram(
            *self._doc("workqueue_queue_duration_seconds"), buckets=QUEUE_BUCKETS, registry=r
        )
        self.work_duration = Histogram(
            *self._doc("workqueue_work_duration_seconds"), buckets=QUEUE_BUCKETS, registry=r
        )
        self.queue_retries = Counter(*self._doc("workqueue_retries_total"), registry=r)
        self.leader_status = Gauge(*self._doc("leader_election_master_status"), registry=r)
        self.rest_requests = Counter(*self._doc("rest_client_requests_total"), registry=r)
        self.informer_lists = Counter(*self._doc("informer_lists_total"), registry=r)
        self.informer_bookmarks = Counter(*self._doc("informer_bookmarks_total"), registry=r)
        self.watch_restarts = Counter(*self._doc("informer_watch_restarts_total"), registry=r)
        self.informer_activity = Gauge(
            *self._doc("informer_last_activity_timestamp_seconds"), registry=r
        )
        self.applies = Counter(*self._doc("applier_applies_total"), registry=r)
        self.events_dropped = Counter(*self._doc("event_recorder_dropped_total"), registry=r)
        self._queue_gauges = _QueueGauges(time.monotonic)
        r.register(self._queue_gauges)

    @staticmethod
    def _doc(name: str) -> tuple[str, str, tuple[str, ...]]:
        spec = SPECS[name]
        return spec.name, spec.help, spec.labels

    def register_queue(self, name: str, queue: QueueState) -> None:
        self._queue_gauges.register(name, queue)

    def write_requests(self) -> int:
        """Requests sent with a writing method (POST, PUT, PATCH, DELETE), any outcome."""
        total = 0.0
        for family in self.rest_requests.collect():
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels["method"] in WRITE_METHODS:
                    total += sample.value
        return int(total)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

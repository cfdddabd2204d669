"""The event recorder on the real API server: events.k8s.io/v1, aggregated, MicroTime."""

from __future__ import annotations

import re

from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.events import EventRecorder
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import CONFIG_MAPS, EVENTS

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def posts_and_patches(metrics: RuntimeMetrics) -> tuple[float, float]:
    def total(method: str) -> float:
        return sum(
            sample.value
            for family in metrics.rest_requests.collect()
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels["method"] == method
        )

    return total("POST"), total("PATCH")


async def test_repeated_events_are_aggregated_into_one_series(
    kube: KubeClient, metrics: RuntimeMetrics, namespace: str
) -> None:
    regarding = await kube.create(
        CONFIG_MAPS, {"metadata": {"name": "subject", "namespace": namespace}}
    )
    recorder = EventRecorder(kube, instance="test-instance", metrics=metrics, series_interval=3600)
    recorder.start()
    try:
        posts, patches = posts_and_patches(metrics)
        for _ in range(50):
            recorder.record(regarding, "Warning", "Failing", "the same thing went wrong")
        recorder.record(regarding, "Normal", "Started", "something else")
        await recorder.flush()
        new_posts, new_patches = posts_and_patches(metrics)
    finally:
        await recorder.stop()
    assert new_posts - posts == 2  # one Event per distinct event, not 51
    assert new_patches - patches <= 2  # count 2 at once, the rest in one flush
    events = (await kube.list(EVENTS, namespace))["items"]
    by_reason = {event["reason"]: event for event in events}
    assert set(by_reason) == {"Failing", "Started"}
    failing = by_reason["Failing"]
    assert failing["series"]["count"] == 50
    assert failing["type"] == "Warning"
    assert failing["note"] == "the same thing went wrong"
    assert failing["regarding"]["uid"] == regarding["metadata"]["uid"]
    assert failing["reportingController"] == "odoo-operator"
    assert failing["reportingInstance"] == "test-instance"
    assert MICRO_TIME.match(failing["eventTime"]), failing["eventTime"]
    assert MICRO_TIME.match(failing["series"]["lastObservedTime"])
    assert "series" not in by_reason["Started"]


async def test_record_never_raises_and_long_notes_are_cut(
    kube: KubeClient, metrics: RuntimeMetrics, namespace: str
) -> None:
    regarding = await kube.create(
        CONFIG_MAPS, {"metadata": {"name": "subject", "namespace": namespace}}
    )
    recorder = EventRecorder(kube, metrics=metrics)
    recorder.start()
    try:
        recorder.record({"no": "metadata"}, "Normal", "Broken", "an object without metadata")
        recorder.record(regarding, "Normal", "Long", "é" * 2000)
        await recorder.flush()
    finally:
        await recorder.stop()
    assert metrics.registry.get_sample_value("event_recorder_dropped_total") == 1
    (event,) = (await kube.list(EVENTS, namespace))["items"]
    assert len(event["note"].encode()) <= 1024
    assert event["note"].endswith("...")


async def test_a_full_backlog_drops_the_oldest_event_and_counts_it(
    kube: KubeClient, metrics: RuntimeMetrics, namespace: str
) -> None:
    regarding = await kube.create(
        CONFIG_MAPS, {"metadata": {"name": "subject", "namespace": namespace}}
    )
    recorder = EventRecorder(kube, metrics=metrics, queue_size=2)
    for reason in ("First", "Second", "Third"):  # not sending yet: the backlog fills up
        recorder.record(regarding, "Normal", reason, f"{reason.lower()} thing")
    recorder.record(regarding, "Normal", "First", "first thing")  # a new series again
    recorder.start()
    try:
        await recorder.flush()
    finally:
        await recorder.stop()
    assert metrics.registry.get_sample_value("event_recorder_dropped_total") == 2
    events = (await kube.list(EVENTS, namespace))["items"]
    assert sorted(event["reason"] for event in events) == ["First", "Third"]
    assert all("series" not in event for event in events)

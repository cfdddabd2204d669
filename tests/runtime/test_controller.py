"""Controllers: outcomes, concurrency, log context, sources, own echoes, no writes at rest."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import pytest
import structlog

from odoo_operator.controllers.own_writes import OwnWrites
from odoo_operator.runtime import (
    DONE,
    Manager,
    ManagerOptions,
    ObjectKey,
    Result,
    TerminalError,
)
from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.controller import Controller, NoPrimaryKind
from odoo_operator.runtime.informers import SharedInformers
from odoo_operator.runtime.logs import configure_logging
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import KubeObject, freeze, strip_managed_fields
from odoo_operator.runtime.resources import CONFIG_MAPS
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime import toy
from tests.runtime.helpers import eventually, eventually_equal, sample, total


class Scripted:
    """A reconciler whose behaviour per key is given by name; it records every call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}

    async def reconcile(self, key: ObjectKey) -> Result:
        self.calls[key.name] += 1
        self.times.setdefault(key.name, []).append(time.monotonic())
        kind = key.name.split("-")[0]
        if kind == "requeue" and self.calls[key.name] < 3:
            return Result(requeue_after=0.2)
        if kind == "fail" and self.calls[key.name] < 4:
            raise RuntimeError("transient trouble")
        if kind == "terminal":
            raise TerminalError("bad input")
        if kind == "crash":
            raise KeyError("a bug in the reconciler")
        return DONE


@pytest.fixture
async def started() -> AsyncIterator[list[Controller]]:
    """Controllers a test starts; stopped afterwards."""
    controllers: list[Controller] = []
    yield controllers
    for controller in controllers:
        await controller.stop(5)


async def test_results_done_requeue_error_terminal(
    kube: KubeClient, metrics: RuntimeMetrics, started: list[Controller]
) -> None:
    reconciler = Scripted()
    controller = Controller("scripted", reconciler, SharedInformers(kube), metrics=metrics)
    controller.for_(CONFIG_MAPS)  # never started: the test enqueues keys itself
    started.append(controller)
    controller.start()
    for name in ("done-1", "requeue-1", "fail-1", "terminal-1", "crash-1"):
        controller.enqueue(ObjectKey("ns", name))
    await eventually(lambda: reconciler.calls["requeue-1"] == 3, what="requeued twice")
    await eventually(lambda: reconciler.calls["fail-1"] == 4, what="retried until success")
    # Let the loop run on for two more backoff rounds of the crashing key: any wrong extra
    # reconcile of the others would have happened by then.
    crashes = reconciler.calls["crash-1"]
    await eventually(lambda: reconciler.calls["crash-1"] >= crashes + 2, what="two more rounds")
    assert reconciler.calls["done-1"] == 1
    assert reconciler.calls["terminal-1"] == 1  # terminal: never retried
    assert reconciler.calls["requeue-1"] == 3
    gaps = [
        b - a
        for a, b in zip(
            reconciler.times["requeue-1"], reconciler.times["requeue-1"][1:], strict=False
        )
    ]
    assert all(gap >= 0.19 for gap in gaps)
    fail_gaps = [
        b - a
        for a, b in zip(reconciler.times["fail-1"], reconciler.times["fail-1"][1:], strict=False)
    ]
    assert fail_gaps[1] >= 0.009
    assert fail_gaps[2] >= 0.019
    # The crashing key keeps being retried with backoff, and the workers stay alive.
    assert reconciler.calls["crash-1"] >= 2
    assert controller.workers_alive()
    assert (
        sample(
            metrics.registry,
            "controller_runtime_reconcile_total",
            controller="scripted",
            result="requeue_after",
        )
        == 2
    )
    assert (
        sample(
            metrics.registry,
            "controller_runtime_terminal_reconcile_errors_total",
            controller="scripted",
        )
        == 1
    )
    assert sample(metrics.registry, "workqueue_retries_total", name="scripted") >= 3 + 1


async def test_a_controller_without_a_primary_kind_refuses_to_start(kube: KubeClient) -> None:
    controller = Controller("orphan", Scripted(), SharedInformers(kube))
    controller.watches(CONFIG_MAPS, lambda obj: [])
    with pytest.raises(NoPrimaryKind, match=r"'orphan' has no primary kind: call \.for_"):
        controller.start()
    assert not controller.workers_alive()


class Tracking:
    """Records how many reconciles run at once, overall and per key."""

    def __init__(self) -> None:
        self.running: Counter[str] = Counter()
        self.most_per_key = 0
        self.most_overall = 0
        self.calls: Counter[str] = Counter()
        self.release = asyncio.Event()

    async def reconcile(self, key: ObjectKey) -> Result:
        self.running[key.name] += 1
        self.calls[key.name] += 1
        self.most_per_key = max(self.most_per_key, self.running[key.name])
        self.most_overall = max(self.most_overall, sum(self.running.values()))
        try:
            await self.release.wait()
            await asyncio.sleep(0.01)
        finally:
            self.running[key.name] -= 1
        return DONE


async def test_n_workers_and_never_one_key_twice_at_once(
    kube: KubeClient, started: list[Controller]
) -> None:
    reconciler = Tracking()
    controller = Controller("tracking", reconciler, SharedInformers(kube), workers=4)
    controller.for_(CONFIG_MAPS)  # never started: the test enqueues keys itself
    started.append(controller)
    controller.start()
    for name in "abcdef":
        controller.enqueue(ObjectKey("ns", name))
    await eventually(lambda: sum(reconciler.running.values()) == 4, what="4 busy workers")
    for _ in range(5):  # add the busy keys again while they are being reconciled
        for name in "abcdef":
            controller.enqueue(ObjectKey("ns", name))
        await asyncio.sleep(0.01)
    reconciler.release.set()
    await eventually(controller.queue.idle, what="queue drained")
    assert reconciler.most_overall == 4
    assert reconciler.most_per_key == 1
    # Each busy key ran once more after the adds made while it was busy, and only once.
    assert all(reconciler.calls[name] == 2 for name in "abcd"), reconciler.calls


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Our log lines as JSON, in a buffer, for the test's duration."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()


def start_with_keys(
    kube: KubeClient, started: list[Controller], name: str, reconciler: Any, *keys: ObjectKey
) -> None:
    """A controller whose informers never start: the test enqueues `keys` itself."""
    controller = Controller(name, reconciler, SharedInformers(kube))
    controller.for_(CONFIG_MAPS)
    started.append(controller)
    controller.start()
    for key in keys:
        controller.enqueue(key)


async def test_every_reconcile_logs_with_its_context(
    kube: KubeClient, started: list[Controller], json_log: io.StringIO
) -> None:
    class Chatty:
        async def reconcile(self, key: ObjectKey) -> Result:
            structlog.get_logger("test").info("inside the reconcile")
            return DONE

    start_with_keys(kube, started, "chatty", Chatty(), ObjectKey("ns-1", "one"),
                    ObjectKey("ns-2", "two"))  # fmt: skip
    await eventually(lambda: json_log.getvalue().count("inside the reconcile") == 2)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    inside = [line for line in lines if line["event"] == "inside the reconcile"]
    assert {(line["namespace"], line["name"]) for line in inside} == {
        ("ns-1", "one"),
        ("ns-2", "two"),
    }
    assert all(line["controller"] == "chatty" for line in inside)
    assert len({line["reconcileID"] for line in inside}) == 2


async def test_a_conflict_is_retried_and_logged_without_a_traceback(
    kube: KubeClient, started: list[Controller], json_log: io.StringIO
) -> None:
    """A 409 is a write onto a version the cache had not caught up with: retried, and
    logged as what it is (info, no traceback), not as a failure of the reconciler."""
    calls: Counter[str] = Counter()

    class Stale:
        async def reconcile(self, key: ObjectKey) -> Result:
            calls[key.name] += 1
            if key.name == "stale" and calls[key.name] == 1:
                raise ApiError(409, "Conflict", "the object has been modified", "PATCH", "/x")
            if key.name == "broken" and calls[key.name] == 1:
                raise ApiError(500, "InternalError", "etcd down", "PATCH", "/x")
            return DONE

    start_with_keys(kube, started, "stale", Stale(), ObjectKey("ns", "stale"),
                    ObjectKey("ns", "broken"))  # fmt: skip
    await eventually(lambda: calls["stale"] == 2 and calls["broken"] == 2, what="retried")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    retried = {line["name"]: line for line in lines if "will retry" in line["event"]}
    assert retried["stale"]["level"] == "info"
    assert "exception" not in retried["stale"]
    assert "409 Conflict" in retried["stale"]["error"]
    assert retried["broken"]["level"] == "error"
    assert "exception" in retried["broken"]


def config_map(
    namespace: str, name: str, labels: dict[str, str] | None = None, **data: str
) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": data,
    }


@pytest.fixture
async def toy_manager(control_plane: ControlPlane, namespace: str) -> AsyncIterator[Manager]:
    options = ManagerOptions(
        kubeconfig=control_plane.kubeconfig,
        leader_elect=False,
        metrics_bind_address="0",
        health_probe_bind_address="0",
        watch_namespace=namespace,
        max_concurrent_reconciles=4,
    )
    async with Manager(options) as manager:
        yield manager


async def running(manager: Manager) -> asyncio.Task[None]:
    task = asyncio.create_task(manager.run(handle_signals=False))
    await eventually(lambda: manager.controllers[0].workers_alive() or task.done(), what="start")
    return task


async def stop(manager: Manager, task: asyncio.Task[None]) -> None:
    manager.stop()
    await asyncio.wait_for(task, 60)


async def test_owns_and_watches_map_events_to_the_right_keys(
    toy_manager: Manager, kube: KubeClient, namespace: str
) -> None:
    toy.set_up(toy_manager)
    reconciled: list[ObjectKey] = []

    class Watching:
        async def reconcile(self, key: ObjectKey) -> Result:
            reconciled.append(key)
            return DONE

    def target_of(obj: KubeObject) -> Iterable[ObjectKey]:
        target = (obj.get("data") or {}).get("target")
        return [ObjectKey(obj["metadata"]["namespace"], target)] if target else []

    toy_manager.controller("watching", Watching()).for_(CONFIG_MAPS).watches(CONFIG_MAPS, target_of)
    task = await running(toy_manager)
    try:
        await kube.create(CONFIG_MAPS, config_map(namespace, "src", {"toy": "source"}, k="v"))
        lister = toy_manager.lister(CONFIG_MAPS)
        await eventually(
            lambda: lister.get(ObjectKey(namespace, "src-mirror")) is not None, what="mirror"
        )
        # owns: deleting the child reconciles its owner, which writes it again (a new
        # object: another uid; it can come back faster than a poll sees it gone).
        first = lister.get(ObjectKey(namespace, "src-mirror"))
        assert first is not None
        await kube.delete(CONFIG_MAPS, "src-mirror", namespace)

        def rewritten() -> bool:
            mirror = lister.get(ObjectKey(namespace, "src-mirror"))
            return mirror is not None and mirror["metadata"]["uid"] != first["metadata"]["uid"]

        await eventually(rewritten, what="mirror written again")
        # watches: a custom mapper picks the key.
        await kube.create(CONFIG_MAPS, config_map(namespace, "pointer", target="somewhere"))
        await eventually(lambda: ObjectKey(namespace, "somewhere") in reconciled, what="mapped")
    finally:
        await stop(toy_manager, task)


async def test_a_converged_controller_sends_no_writes_at_rest(
    toy_manager: Manager, kube: KubeClient, namespace: str
) -> None:
    """100 sources converge; then a forced resync and watch restart, back to rest: 0 writes.

    At rest means: the cache holds the server's versions of our own writes, the queue is
    idle and nothing waits in it (no requeue-after pending), and the event recorder has
    sent everything, so no later moment could bring a write that this one does not: the
    test waits for those events, not for time.

    Writes are counted from what the manager's client sent (POST/PUT/PATCH/DELETE in
    `rest_client_requests_total`), and the mirrors' resourceVersions must not move.
    Leader election is off here: a leader's Lease renewals are writes by design.
    """
    reconciler = toy.set_up(toy_manager)
    controller = toy_manager.controllers[0]
    task = await running(toy_manager)
    try:
        await asyncio.gather(
            *(
                kube.create(
                    CONFIG_MAPS, config_map(namespace, f"s{n:03}", {"toy": "source"}, n=str(n))
                )
                for n in range(100)
            )
        )
        lister = toy_manager.lister(CONFIG_MAPS)

        def converged() -> bool:
            mirrors = lister.list(namespace, labels={"toy": "mirror"})
            return (
                len(mirrors) == 100 and controller.queue.idle() and controller.queue.waiting() == 0
            )

        await eventually(converged, within=120, what="100 mirrors written")

        async def cached_versions() -> dict[str, str]:
            mirrors = lister.list(namespace, labels={"toy": "mirror"})
            return {m["metadata"]["name"]: m["metadata"]["resourceVersion"] for m in mirrors}

        # The watch events of our own writes came back: the cache is the server's state.
        server_versions = await mirror_versions(kube, namespace)
        await eventually_equal(cached_versions, server_versions, within=60)
        await eventually(converged, within=60, what="settled")
        await toy_manager.recorder.flush()  # the events of those writes, counted in series
        metrics = toy_manager.metrics
        writes_before = metrics.write_requests()
        registry = metrics.registry
        reconciles_before = total(
            registry, "controller_runtime_reconcile_total", controller="mirror"
        )
        skipped_before = sample(
            registry, "applier_applies_total", resource="configmaps", result="skipped"
        )
        server_before = await mirror_versions(kube, namespace)

        for informer in toy_manager.informers.all():
            informer.resync()  # every object delivered again: every source reconciled
            informer.restart_watch()  # and a forced reconnect for good measure
        await eventually(
            lambda: (
                total(registry, "controller_runtime_reconcile_total", controller="mirror")
                >= reconciles_before + 200
            ),
            what="resync reconciled",
        )
        await eventually(converged, what="idle after the resync")

        skipped = sample(registry, "applier_applies_total", resource="configmaps", result="skipped")
        assert skipped >= skipped_before + 100
        assert metrics.write_requests() == writes_before
        assert await mirror_versions(kube, namespace) == server_before
        assert reconciler.identity == toy_manager.identity
    finally:
        await stop(toy_manager, task)


async def mirror_versions(kube: KubeClient, namespace: str) -> dict[str, str]:
    listing = await kube.list(CONFIG_MAPS, namespace, label_selector="toy=mirror")
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listing["items"]}


async def test_the_echo_of_our_own_write_enqueues_nothing_any_other_change_does(
    kube: KubeClient, namespace: str, started: list[Controller]
) -> None:
    """`ignore=` with `own_writes`: the informer delivering the version our write returned
    reconciles nothing; someone else's change and a deletion of the same object do.

    The controller is started before its informer lists, so the echo is delivered by that
    first list (through the same path as a watch event, which could arrive before the
    write's answer and make the test flaky), right before another object's add: with one
    worker, keys are reconciled in the order they were added, so when `theirs` has been
    reconciled, `ours` would have been too had its echo been enqueued.
    """
    writes = OwnWrites()
    informers = SharedInformers(kube)
    informer = informers.get(CONFIG_MAPS, namespace)
    informer.add_handler(writes.handler(CONFIG_MAPS))
    written = await kube.create(CONFIG_MAPS, config_map(namespace, "ours", k="v"))
    writes.remember(CONFIG_MAPS, freeze(strip_managed_fields(written)))
    await kube.create(CONFIG_MAPS, config_map(namespace, "theirs", k="v"))
    reconciled: list[str] = []

    class Recording:
        async def reconcile(self, key: ObjectKey) -> Result:
            reconciled.append(key.name)
            return DONE

    controller = Controller("echoes", Recording(), informers, workers=1)
    controller.for_(informer, ignore=lambda obj: writes.is_echo(CONFIG_MAPS, obj))
    started.append(controller)
    controller.start()
    informers.start()
    try:
        await eventually(lambda: "theirs" in reconciled, what="their object reconciled")
        assert reconciled == ["theirs"]  # our own write's echo was not enqueued
        await kube.merge_patch(CONFIG_MAPS, "ours", {"data": {"k": "edited"}}, namespace)
        await eventually(lambda: reconciled.count("ours") == 1, what="someone else's edit")
        await kube.delete(CONFIG_MAPS, "ours", namespace)
        await eventually(lambda: reconciled.count("ours") == 2, what="the deletion")
    finally:
        await informers.stop()

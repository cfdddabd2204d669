"""The manager: start order, probes, metrics, lease loss, stop requests, exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from odoo_operator.runtime import (
    CacheSyncTimeout,
    ConfigurationError,
    LeaderElectionLost,
    Manager,
    ManagerOptions,
    ObjectKey,
    Result,
    run_manager,
)
from odoo_operator.runtime.client import MAX_CONNECTIONS, ApiError, KubeClient
from odoo_operator.runtime.metrics import METRICS
from odoo_operator.runtime.resources import CONFIG_MAPS, LEASES
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import port_open
from tests.runtime import toy
from tests.runtime.helpers import eventually, sample
from tests.runtime.tcpproxy import TcpProxy

LOCAL = "127.0.0.1:0"


def options(kubeconfig: Path, namespace: str, **overrides: object) -> ManagerOptions:
    values: dict[str, object] = {
        "kubeconfig": kubeconfig,
        "watch_namespace": namespace,
        "lease_namespace": namespace,
        "leader_elect": False,
        "metrics_bind_address": LOCAL,
        "health_probe_bind_address": LOCAL,
    }
    values.update(overrides)
    return ManagerOptions.model_validate(values)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def url(manager: Manager, server: str, path: str) -> str:
    found = manager.server(server)
    assert found is not None
    assert found.port, f"{server} server not started"
    return found.url + path


async def start(manager: Manager) -> asyncio.Task[None]:
    task = asyncio.create_task(manager.run(handle_signals=False))
    await eventually(lambda: all(s.port for s in manager.servers) or task.done(), what="servers up")
    return task


@pytest.fixture
async def finish() -> AsyncIterator[list[tuple[Manager, asyncio.Task[None]]]]:
    """Managers a test started; stopped (and awaited) afterwards whatever happened."""
    running: list[tuple[Manager, asyncio.Task[None]]] = []
    yield running
    for manager, task in running:
        manager.stop()
        manager.stop()
        await asyncio.gather(task, return_exceptions=True)
        await manager.close()


async def test_readyz_fails_until_caches_sync(
    runtime_plane: ControlPlane,
    proxy: TcpProxy,
    proxied_kubeconfig: Path,
    finish: list[tuple[Manager, asyncio.Task[None]]],
) -> None:
    proxy.refuse = True  # the API server is unreachable at first
    manager = Manager(options(proxied_kubeconfig, "default"))
    await manager.connect()
    toy.set_up(manager)
    task = await start(manager)
    finish.append((manager, task))
    status, body = await get(url(manager, "health", "/readyz"))
    assert status == 500
    assert "[-]informers-synced failed: caches not synced yet: configmaps@default" in body
    assert (await get(url(manager, "health", "/healthz")))[0] == 200
    assert (await get(url(manager, "health", "/readyz/ping")))[0] == 200
    assert (await get(url(manager, "health", "/healthz/nonsense")))[0] == 404
    proxy.refuse = False
    for _ in range(600):
        if (await get(url(manager, "health", "/readyz")))[0] == 200:
            break
        await asyncio.sleep(0.1)
    status, body = await get(url(manager, "health", "/readyz?verbose"))
    assert status == 200
    assert "[+]informers-synced ok" in body
    assert manager.controllers[0].workers_alive()


async def test_start_fails_clearly_when_caches_do_not_sync(
    runtime_plane: ControlPlane, proxy: TcpProxy, proxied_kubeconfig: Path
) -> None:
    proxy.refuse = True
    manager = Manager(options(proxied_kubeconfig, "default", cache_sync_timeout=2))
    await manager.connect()
    toy.set_up(manager)
    try:
        with pytest.raises(CacheSyncTimeout, match="configmaps@default"):
            await asyncio.wait_for(manager.run(handle_signals=False), 30)
    finally:
        await manager.close()
    health = manager.server("health")
    assert health is not None
    assert health.port
    assert not port_open(health.port)  # everything started was stopped again


async def test_a_controller_without_a_primary_kind_refuses_to_start(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with Manager(options(control_plane.kubeconfig, namespace)) as manager:
        manager.controller("orphan", Failing()).watches(CONFIG_MAPS, lambda obj: [])
        with pytest.raises(ConfigurationError, match=r"'orphan' has no primary kind: call \.for_"):
            await asyncio.wait_for(manager.run(handle_signals=False), 30)
        assert manager.servers
        assert all(server.port is None for server in manager.servers)  # nothing started


async def test_more_watches_than_half_the_connections_refuse_to_start(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Each watch holds one of the client's connections: too many would starve requests."""
    async with Manager(options(control_plane.kubeconfig, namespace)) as manager:
        toy.set_up(manager)  # one informer
        for index in range(MAX_CONNECTIONS // 2):  # half the connections, plus one
            manager.informer(CONFIG_MAPS, namespace, label_selector=f"index={index}")
        message = rf"{MAX_CONNECTIONS // 2 + 1} informers would hold .* of the client's"
        with pytest.raises(ConfigurationError, match=message):
            await asyncio.wait_for(manager.run(handle_signals=False), 30)
        assert all(server.port is None for server in manager.servers)  # nothing started


class Failing:
    async def reconcile(self, key: ObjectKey) -> Result:
        raise RuntimeError("always")


async def test_metrics_endpoint_serves_every_listed_metric_with_its_labels(
    control_plane: ControlPlane,
    kube: KubeClient,
    namespace: str,
    finish: list[tuple[Manager, asyncio.Task[None]]],
) -> None:
    manager = Manager(options(control_plane.kubeconfig, namespace, leader_elect=True))
    await manager.connect()
    toy.set_up(manager)
    failing = manager.controller("failing", Failing()).for_(CONFIG_MAPS)
    task = await start(manager)
    finish.append((manager, task))
    source = {"metadata": {"name": "s", "namespace": namespace, "labels": {"toy": "source"}}}
    await kube.create(CONFIG_MAPS, source)
    lister = manager.lister(CONFIG_MAPS)
    await eventually(
        lambda: lister.get(ObjectKey(namespace, "s-mirror")) is not None, what="mirror"
    )
    await eventually(failing.workers_alive, what="failing controller started")
    failing.enqueue(ObjectKey(namespace, "x"))
    registry = manager.metrics.registry
    await eventually(
        lambda: (
            sample(
                registry, "controller_runtime_reconcile_total", controller="failing", result="error"
            )
            >= 2
        ),
        what="a retried error",
    )
    informer = manager.informer(CONFIG_MAPS)
    informer.restart_watch()
    restarts = {"resource": "configmaps", "namespace": namespace, "reason": "forced"}
    await eventually(
        lambda: sample(registry, "informer_watch_restarts_total", **restarts) == 1,
        what="a restart",
    )
    status, text = await get(url(manager, "metrics", "/metrics"))
    assert status == 200
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    missing = []
    for spec in METRICS:
        suffixes = ("_bucket", "_count", "_sum") if spec.kind == "histogram" else ("",)
        names = {spec.name + suffix for suffix in suffixes}
        if not any(s.name in names and set(spec.labels) <= set(s.labels) for s in samples):
            missing.append(spec.name)
    assert missing == []
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    assert values[("leader_election_master_status", (("name", "odoo-operator-leader"),))] == 1
    errors = ("controller_runtime_reconcile_errors_total", (("controller", "failing"),))
    assert values[errors] >= 2
    assert "process_resident_memory_bytes" in {s.name for s in samples}


async def test_losing_the_lease_stops_at_once(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    manager = Manager(
        options(
            control_plane.kubeconfig,
            namespace,
            leader_elect=True,
            lease_duration=3,
            renew_deadline=2,
            retry_period=0.5,
            shutdown_grace=600,
        )
    )
    await manager.connect()
    toy.set_up(manager, delay=60)
    try:
        task = await start(manager)
        source = {"metadata": {"name": "s", "namespace": namespace, "labels": {"toy": "source"}}}
        await kube.create(CONFIG_MAPS, source)
        controller = manager.controllers[0]
        await eventually(lambda: controller.queue.processing() != set(), what="slow reconcile")
        lease = await kube.get(LEASES, "odoo-operator-leader", namespace)
        lease["spec"]["holderIdentity"] = "another-replica"
        await kube.replace(LEASES, lease)
        # Not the shutdown grace (10 min here): the reconcile is cancelled at once.
        with pytest.raises(LeaderElectionLost):
            await asyncio.wait_for(task, 60)
        assert manager.elector is not None
        assert not manager.elector.is_leader
    finally:
        await manager.close()
    with pytest.raises(ApiError) as error:  # the cancelled reconcile wrote nothing
        await kube.get(CONFIG_MAPS, "s-mirror", namespace)
    assert error.value.not_found


async def test_a_second_stop_request_cuts_the_grace_period(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    manager = Manager(options(control_plane.kubeconfig, namespace, shutdown_grace=600))
    await manager.connect()
    toy.set_up(manager, delay=600)
    try:
        task = await start(manager)
        source = {"metadata": {"name": "s", "namespace": namespace, "labels": {"toy": "source"}}}
        await kube.create(CONFIG_MAPS, source)
        controller = manager.controllers[0]
        await eventually(lambda: controller.queue.processing() != set(), what="slow reconcile")
        manager.stop()
        await eventually(lambda: controller.queue.shutting_down, what="the controllers stopping")
        assert not task.done()  # the first request waits for the reconcile (10 min grace)
        assert controller.queue.processing() != set()
        manager.stop()
        await asyncio.wait_for(task, 60)  # far less than the grace: the second cut it
    finally:
        await manager.close()


class Recorded:
    """A runnable that notes, in `log`, when it starts and stops, and whether the
    controllers were running at that moment."""

    def __init__(self, name: str, manager: Manager, log: list[str]) -> None:
        self.name, self.manager, self.log = name, manager, log

    def _controllers(self) -> str:
        return "running" if self.manager.controllers[0].workers_alive() else "not running"

    async def start(self) -> None:
        self.log.append(f"{self.name} start, controllers {self._controllers()}")

    async def stop(self) -> None:
        self.log.append(f"{self.name} stop, controllers {self._controllers()}")
        if self.name == "first":
            raise RuntimeError("a failing stop is logged; the others still stop")


async def test_runnables_start_before_the_controllers_and_stop_after_them(
    control_plane: ControlPlane, namespace: str
) -> None:
    manager = Manager(options(control_plane.kubeconfig, namespace))
    await manager.connect()
    toy.set_up(manager)
    log: list[str] = []
    manager.add_runnable("first", Recorded("first", manager, log))
    manager.add_runnable("second", Recorded("second", manager, log))
    try:
        task = await start(manager)
        await eventually(manager.controllers[0].workers_alive, what="controllers running")
        assert log == [
            "first start, controllers not running",
            "second start, controllers not running",
        ]
        manager.stop()
        await asyncio.wait_for(task, 30)
    finally:
        await manager.close()
    assert log[2:] == [
        "second stop, controllers not running",
        "first stop, controllers not running",
    ]
    with pytest.raises(RuntimeError, match="before the manager runs"):
        manager.add_runnable("late", Recorded("late", manager, log))


async def test_run_manager_exit_codes(tmp_path: Path) -> None:
    bad = ManagerOptions(kubeconfig=tmp_path / "missing", leader_elect=False)
    try:
        assert await run_manager(bad, lambda manager: None) == 1
    finally:
        structlog.reset_defaults()

"""Informers under real failures, on a control plane of their own (`runtime_plane`).

Compaction (410 Gone, relist, deletes for vanished objects), a killed and restarted
kube-apiserver, a stream that stalls silently (watchdog), and connections that are cut
and refused for a while (backoff, then recovery).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from odoo_operator.runtime.client import KubeClient, connect
from odoo_operator.runtime.informer import Informer, InformerOptions
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.runtime.resources import CONFIG_MAPS, NAMESPACES
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.helpers import RecordingHandler, eventually, sample
from tests.runtime.tcpproxy import TcpProxy


@pytest.fixture
async def direct(runtime_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    """A client straight to the plane, for the test's own changes."""
    client = await connect(runtime_plane.kubeconfig, RuntimeMetrics(process_metrics=False))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def plane_namespace(direct: KubeClient) -> str:
    name = f"r-{secrets.token_hex(4)}"
    await direct.create(NAMESPACES, {"metadata": {"name": name}})
    return name


async def seed(client: KubeClient, namespace: str, *names: str) -> None:
    for name in names:
        body = {"metadata": {"name": name, "namespace": namespace}, "data": {"v": "0"}}
        await client.create(CONFIG_MAPS, body)


async def server_state(client: KubeClient, namespace: str) -> dict[str, str]:
    listing = await client.list(CONFIG_MAPS, namespace)
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listing["items"]}


def cache_state(informer: Informer, namespace: str) -> dict[str, str]:
    return {
        o["metadata"]["name"]: o["metadata"]["resourceVersion"]
        for o in informer.lister.list(namespace)
    }


def count(informer: Informer, metric: str, **labels: str) -> float:
    """A counter of `informer`, read from the registry it reports to."""
    assert informer.metrics is not None
    scope = {"resource": str(informer.resource), "namespace": informer.scope}
    return sample(informer.metrics.registry, metric, **scope, **labels)


def informer_on(client: KubeClient, namespace: str, **options: float | tuple[int, int]) -> Informer:
    metrics = RuntimeMetrics(process_metrics=False)
    return Informer(
        client, CONFIG_MAPS, namespace, options=InformerOptions(**options), metrics=metrics
    )


class Running:
    """An informer task started and cancelled around a block."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.handler = RecordingHandler()
        informer.add_handler(self.handler)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self._task = asyncio.create_task(self.informer.run())
        assert await self.informer.wait_for_sync(30)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        assert not self._task.done(), "the informer task died"
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def make_changes(client: KubeClient, namespace: str) -> None:
    """One create, one update, one delete."""
    await seed(client, namespace, "created-meanwhile")
    await client.merge_patch(CONFIG_MAPS, "a", {"data": {"v": "1"}}, namespace)
    await client.delete(CONFIG_MAPS, "b", namespace)


async def assert_caught_up(informer: Informer, client: KubeClient, namespace: str) -> None:
    expected = await server_state(client, namespace)
    await eventually(
        lambda: cache_state(informer, namespace) == expected,
        within=60,
        what="cache equal to the server's list",
    )


async def test_relists_after_compaction_and_reports_vanished_objects(
    runtime_plane: ControlPlane,
    proxy: TcpProxy,
    proxied_kubeconfig: Path,
    direct: KubeClient,
    plane_namespace: str,
) -> None:
    await seed(direct, plane_namespace, "a", "b", "c")
    client = await connect(proxied_kubeconfig, RuntimeMetrics(process_metrics=False))
    informer = informer_on(client, plane_namespace)
    try:
        async with Running(informer) as running:
            assert count(informer, "informer_lists_total") == 1
            # Disconnect the informer, change things behind its back, compact etcd,
            # then let it reconnect from its (now compacted) resourceVersion.
            proxy.refuse = True
            proxy.cut()
            await make_changes(direct, plane_namespace)
            runtime_plane.etcd.compact()
            proxy.refuse = False
            await assert_caught_up(informer, direct, plane_namespace)
            assert count(informer, "informer_watch_restarts_total", reason="gone") >= 1
            assert count(informer, "informer_lists_total") >= 2
            assert running.handler.of("b")[-1] == "delete"  # vanished while away
            assert running.handler.of("created-meanwhile") == ["add"]
            assert running.handler.of("a")[-1] == "update"
    finally:
        await client.close()


async def test_catches_up_after_the_apiserver_is_killed_and_restarted(
    runtime_plane: ControlPlane, direct: KubeClient, plane_namespace: str
) -> None:
    await seed(direct, plane_namespace, "a", "b")
    client = await connect(runtime_plane.kubeconfig, RuntimeMetrics(process_metrics=False))
    informer = informer_on(client, plane_namespace)
    try:
        async with Running(informer) as running:
            runtime_plane.kill_apiserver()
            await eventually(
                lambda: count(informer, "informer_watch_restarts_total", reason="error") >= 1,
                within=60,
                what="outage seen",
            )  # the informer now fails to reconnect and backs off
            # Started from this (main) thread on purpose: the child's parent-death signal
            # is tied to the starting thread, and a worker thread would take it down.
            runtime_plane.start_apiserver()
            await make_changes(direct, plane_namespace)
            await assert_caught_up(informer, direct, plane_namespace)
            assert count(informer, "informer_watch_restarts_total", reason="error") >= 1
            assert running.handler.of("b")[-1] == "delete"
            assert running.handler.of("created-meanwhile") == ["add"]
    finally:
        await client.close()


async def test_watchdog_reopens_a_stream_that_went_silent(
    proxy: TcpProxy, proxied_kubeconfig: Path, direct: KubeClient, plane_namespace: str
) -> None:
    client = await connect(proxied_kubeconfig, RuntimeMetrics(process_metrics=False))
    # Long server timeout: only the watchdog can notice the stall within the test.
    informer = informer_on(
        client, plane_namespace, watchdog_timeout=2.0, watch_timeout_range=(600, 600)
    )
    try:
        async with Running(informer):
            proxy.stall()  # every open connection goes silent; new ones work
            await seed(direct, plane_namespace, "during-stall")
            # The server would end the watch after 10 min: within the deadline, only the
            # watchdog can bring the change.
            await eventually(
                lambda: informer.lister.get(ObjectKey(plane_namespace, "during-stall")) is not None,
                within=60,
                what="the change made during the stall",
            )
            assert count(informer, "informer_watch_restarts_total", reason="watchdog") >= 1
    finally:
        await client.close()


async def test_backs_off_while_connections_fail_then_recovers(
    proxy: TcpProxy, proxied_kubeconfig: Path, direct: KubeClient, plane_namespace: str
) -> None:
    await seed(direct, plane_namespace, "a", "b")
    client = await connect(proxied_kubeconfig, RuntimeMetrics(process_metrics=False))
    informer = informer_on(client, plane_namespace)
    try:
        async with Running(informer) as running:
            proxy.refuse = True
            proxy.cut()
            await make_changes(direct, plane_namespace)
            await eventually(lambda: len(proxy.refused_at) >= 3, within=60, what="3 refusals")
            # Backoff 0.8 s doubling, jitter only adding: the n-th wait is at least
            # 0.8 * 2^(n-1) s, so refused reconnects are at least that far apart (a loop
            # without backoff is not). Lower bounds only: a slow machine only adds.
            first, second, third = proxy.refused_at[:3]
            assert second - first >= 0.8, proxy.refused_at
            assert third - second >= 1.6, proxy.refused_at
            proxy.refuse = False
            await assert_caught_up(informer, direct, plane_namespace)
            assert running.handler.of("b")[-1] == "delete"
    finally:
        await client.close()

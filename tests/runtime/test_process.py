"""The toy operator as real processes: leader election between two, and SIGTERM.

These need real processes because the point is what happens when one is killed
(SIGKILL: no release, the lease must expire), loses its lease (it must exit), or is
signalled (SIGTERM: in-flight work finishes, the lease is released, exit 0).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.resources import CONFIG_MAPS, LEASES
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.helpers import eventually, eventually_equal

ROOT = Path(__file__).resolve().parents[2]


class Toy:
    """One `python -m tests.runtime.toy` process, its metrics server and its log.

    The metrics server binds a port of the kernel's choice (`127.0.0.1:0`) and the test
    reads it from the `serving` log line: a port picked beforehand could be taken by
    another test session's server meanwhile, and the test would read that one.
    """

    def __init__(self, kubeconfig: Path, namespace: str, identity: str, log: Path, *extra: str):
        self.identity = identity
        self.log = log
        argv = [
            sys.executable,
            "-m",
            "tests.runtime.toy",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            "--identity",
            identity,
            "--metrics-bind-address",
            "127.0.0.1:0",
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def logged(self, event: str) -> bool:
        return any(line.get("event") == event for line in self.log_lines())

    def metrics_url(self) -> str | None:
        for line in self.log_lines():
            if line.get("event") == "serving" and line.get("server") == "metrics":
                return f"{line['url']}/metrics"
        return None

    async def metric(self, metric: str, **labels: str) -> float | None:
        """A sample from the process's /metrics; None while it does not answer."""
        url = self.metrics_url()
        if url is None:
            return None
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    url,
                    timeout=aiohttp.ClientTimeout(total=2),
                ) as response,
            ):
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        total = None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == metric and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total = (total or 0.0) + sample.value
        return total


@pytest.fixture
def toys() -> Iterator[list[Toy]]:
    started: list[Toy] = []
    yield started
    for toy in started:
        toy.stop()


async def mirrored_by(kube: KubeClient, namespace: str, name: str) -> str | None:
    try:
        mirror = await kube.get(CONFIG_MAPS, f"{name}-mirror", namespace)
    except ApiError:
        return None
    return str(mirror["data"]["mirrored-by"])


async def create_source(kube: KubeClient, namespace: str, name: str) -> None:
    body = {"metadata": {"name": name, "namespace": namespace, "labels": {"toy": "source"}}}
    await kube.create(CONFIG_MAPS, body)


async def wait_metric(toy: Toy, metric: str, value: float, within: float, **labels: str) -> None:
    deadline = time.monotonic() + within
    while await toy.metric(metric, **labels) != value:
        if toy.process.poll() is not None:
            raise AssertionError(f"{toy.identity} exited: {toy.log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{toy.identity}: {metric} != {value} after {within}s")
        await asyncio.sleep(0.2)


async def test_two_managers_one_leader_and_takeover_after_a_kill(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path, toys: list[Toy]
) -> None:
    status = "leader_election_master_status"
    first = Toy(control_plane.kubeconfig, namespace, "first", tmp_path / "first.log")
    toys.append(first)
    await wait_metric(first, status, 1, 60, name="odoo-operator-leader")
    second = Toy(control_plane.kubeconfig, namespace, "second", tmp_path / "second.log")
    toys.append(second)
    await wait_metric(second, status, 0, 60, name="odoo-operator-leader")
    await eventually(lambda: second.logged("caches synced"), what="second synced")

    for name in ("a", "b", "c"):
        await create_source(kube, namespace, name)
    for name in ("a", "b", "c"):
        await eventually_equal(partial(mirrored_by, kube, namespace, name), "first")
    # Only the leader runs controllers: the follower has not reconciled anything.
    assert await second.metric("controller_runtime_reconcile_total") == 0
    assert (await first.metric("controller_runtime_reconcile_total") or 0) >= 3
    assert await first.metric(status, name="odoo-operator-leader") == 1

    first.process.send_signal(signal.SIGKILL)  # no release: the lease has to expire
    first.process.wait()
    await wait_metric(second, status, 1, 120, name="odoo-operator-leader")
    lease = await kube.get(LEASES, "odoo-operator-leader", namespace)
    assert lease["spec"]["holderIdentity"] == "second"
    assert lease["spec"]["leaseTransitions"] == 1
    await create_source(kube, namespace, "d")
    await eventually_equal(partial(mirrored_by, kube, namespace, "d"), "second")

    # Another replica takes the lease from under the leader: it must exit, non-zero.
    lease = await kube.get(LEASES, "odoo-operator-leader", namespace)
    lease["spec"]["holderIdentity"] = "another-replica"
    await kube.replace(LEASES, lease)
    code = await asyncio.to_thread(second.process.wait, 60)
    assert code == 1
    assert any(
        line.get("event") == "operator stopped" and "lost the leader Lease" in str(line["error"])
        for line in second.log_lines()
    )


async def test_sigterm_lets_a_slow_reconcile_finish_then_exits_0(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path, toys: list[Toy]
) -> None:
    toy = Toy(
        control_plane.kubeconfig,
        namespace,
        "slow",
        tmp_path / "slow.log",
        "--reconcile-delay",
        "4",
    )
    toys.append(toy)
    await eventually(lambda: toy.logged("caches synced"), within=60, what="started")
    await create_source(kube, namespace, "s")
    await eventually(lambda: toy.logged("slow reconcile started"), what="reconcile running")
    toy.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(toy.process.wait, 60)
    events = [line.get("event") for line in toy.log_lines()]
    assert code == 0, toy.log.read_text()[-2000:]
    assert events.index("slow reconcile finished") < events.index("manager stopped")
    assert events.index("signal received; stopping") < events.index("slow reconcile finished")
    assert await mirrored_by(kube, namespace, "s") == "slow"  # the reconcile completed
    lease = await kube.get(LEASES, "odoo-operator-leader", namespace)
    assert lease["spec"]["holderIdentity"] == ""  # released on a clean stop

"""Leader election on a real Lease: one holder, takeover after expiry, release, MicroTime."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.leaderelection import LeaderElector, LeaseConfig
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import KubeObject
from odoo_operator.runtime.resources import LEASES
from tests.runtime.helpers import eventually

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Short timings so the test is quick; the rules are the same as 15 s / 10 s / 2 s.
FAST = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


def elector(kube: KubeClient, namespace: str, identity: str) -> LeaderElector:
    config = LeaseConfig("test-leader", namespace, identity, **FAST)
    return LeaderElector(kube, config, metrics=RuntimeMetrics(process_metrics=False))


def status(candidate: LeaderElector) -> float | None:
    metrics = candidate._metrics
    assert metrics is not None
    return metrics.registry.get_sample_value(
        "leader_election_master_status", {"name": "test-leader"}
    )


async def lease_spec(kube: KubeClient, namespace: str) -> dict[str, object]:
    lease = await kube.get(LEASES, "test-leader", namespace)
    return dict(lease["spec"])


def when(spec: dict[str, object], field: str) -> datetime:
    return datetime.strptime(str(spec[field]), "%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseHistory:
    """Every version of the Lease, as a watch delivers them (an informer handler)."""

    def __init__(self) -> None:
        self.versions: list[dict[str, object]] = []

    def on_add(self, obj: KubeObject) -> None:
        self.versions.append(dict(obj["spec"]))

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self.versions.append(dict(new["spec"]))

    def on_delete(self, obj: KubeObject) -> None:
        pass

    def renewed_by(self, holder: str) -> list[datetime]:
        return [when(v, "renewTime") for v in self.versions if v.get("holderIdentity") == holder]

    def takeovers(self) -> list[tuple[dict[str, object], dict[str, object]]]:
        """(last version of one holder, first of the next) where a holder took it from
        another without a release in between."""
        return [
            (before, after)
            for before, after in zip(self.versions, self.versions[1:], strict=False)
            if before.get("holderIdentity")
            and after.get("holderIdentity") not in ("", None, before.get("holderIdentity"))
        ]


@pytest.fixture
async def lease_history(kube: KubeClient, namespace: str) -> AsyncIterator[LeaseHistory]:
    history = LeaseHistory()
    watch = Informer(kube, LEASES, namespace)
    watch.add_handler(history)
    task = asyncio.create_task(watch.run())
    try:
        assert await watch.wait_for_sync(60)
        yield history
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_one_leader_takeover_after_expiry_and_release(
    kube: KubeClient, namespace: str, lease_history: LeaseHistory
) -> None:
    """Told by the Lease's own record (every version, from a watch), not by the test's
    clock: no takeover while renewed, none before expiry, and after a release no waiting
    for expiry at all."""
    first, second = elector(kube, namespace, "first"), elector(kube, namespace, "second")
    await asyncio.wait_for(first.acquire(), 60)
    renewing = asyncio.create_task(first.keep_renewing())
    contender = asyncio.create_task(second.acquire())
    acquired = when(await lease_spec(kube, namespace), "acquireTime")
    span = timedelta(seconds=FAST["lease_duration"] * 2)

    def renewed_for_two_durations() -> bool:
        return any(renewal - acquired >= span for renewal in lease_history.renewed_by("first"))

    # A loaded machine may make the leader miss its 2 s renew deadline: it then steps down
    # (and the takeover below happens from there).
    await eventually(
        lambda: renewed_for_two_durations() or first.lost.is_set(),
        within=120,
        what="two lease durations of renewals",
    )
    if not first.lost.is_set():
        assert not contender.done()  # renewed all along: no takeover
        assert (status(first), status(second)) == (1, 0)
    spec = await lease_spec(kube, namespace)
    assert MICRO_TIME.match(str(spec["renewTime"]))
    assert MICRO_TIME.match(str(spec["acquireTime"]))

    # The leader dies without releasing: the contender takes over, not before expiry.
    renewing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await renewing
    await asyncio.wait_for(contender, 120)
    assert status(second) == 1
    spec = await lease_spec(kube, namespace)
    assert spec["holderIdentity"] == "second"
    assert spec["leaseTransitions"] == 1
    await eventually(lambda: bool(lease_history.takeovers()), within=60, what="takeover seen")
    [(last_renewal, taken)] = lease_history.takeovers()
    assert (last_renewal["holderIdentity"], taken["holderIdentity"]) == ("first", "second")
    waited = when(taken, "acquireTime") - when(last_renewal, "renewTime")
    assert waited >= timedelta(seconds=FAST["lease_duration"])

    # A clean release hands over at once: here the lease would only expire after 10 min.
    await second.release()
    assert status(second) == 0
    patient = LeaderElector(
        kube,
        LeaseConfig("test-leader", namespace, "patient", **{**FAST, "lease_duration": 600.0}),
        metrics=RuntimeMetrics(process_metrics=False),
    )
    await asyncio.wait_for(patient.acquire(), 30)
    third = elector(kube, namespace, "third")
    taker = asyncio.create_task(third.acquire())
    await patient.release()
    await asyncio.wait_for(taker, 60)
    assert (await lease_spec(kube, namespace))["holderIdentity"] == "third"


async def test_a_leader_that_cannot_renew_steps_down(kube: KubeClient, namespace: str) -> None:
    leader = elector(kube, namespace, "leader")
    await asyncio.wait_for(leader.acquire(), 10)
    renewing = asyncio.create_task(leader.keep_renewing())
    # Someone else takes the lease over (as if our renewals never reached the server).
    lease = await kube.get(LEASES, "test-leader", namespace)
    lease["spec"]["holderIdentity"] = "usurper"
    await kube.replace(LEASES, lease)
    await eventually(leader.lost.is_set, within=10, what="leadership lost")
    await asyncio.wait_for(renewing, 5)
    assert status(leader) == 0
    assert not leader.is_leader

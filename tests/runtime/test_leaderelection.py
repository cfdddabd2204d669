"""Leader election on a real Lease: one holder, takeover after expiry, release, MicroTime."""

from __future__ import annotations

import asyncio
import re
import time

from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.leaderelection import LeaderElector, LeaseConfig
from odoo_operator.runtime.metrics import RuntimeMetrics
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


async def test_one_leader_takeover_after_expiry_and_release(
    kube: KubeClient, namespace: str
) -> None:
    first, second = elector(kube, namespace, "first"), elector(kube, namespace, "second")
    await asyncio.wait_for(first.acquire(), 10)
    renewing = asyncio.create_task(first.keep_renewing())
    contender = asyncio.create_task(second.acquire())
    await asyncio.sleep(FAST["lease_duration"] * 2)  # renewed all along: no takeover
    assert not contender.done()
    assert (status(first), status(second)) == (1, 0)
    lease = await kube.get(LEASES, "test-leader", namespace)
    assert lease["spec"]["holderIdentity"] == "first"
    assert MICRO_TIME.match(lease["spec"]["renewTime"])
    assert MICRO_TIME.match(lease["spec"]["acquireTime"])

    # The leader dies without releasing: the contender takes over once the lease expires.
    renewing.cancel()
    killed = time.monotonic()
    await asyncio.wait_for(contender, 15)
    waited = time.monotonic() - killed
    assert FAST["lease_duration"] - 1 <= waited <= FAST["lease_duration"] + 3
    assert status(second) == 1
    lease = await kube.get(LEASES, "test-leader", namespace)
    assert lease["spec"]["holderIdentity"] == "second"
    assert lease["spec"]["leaseTransitions"] == 1

    # A clean release hands over at once.
    third = elector(kube, namespace, "third")
    taker = asyncio.create_task(third.acquire())
    await asyncio.sleep(1)
    await second.release()
    assert status(second) == 0
    released = time.monotonic()
    await asyncio.wait_for(taker, 10)
    assert time.monotonic() - released < FAST["lease_duration"]


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

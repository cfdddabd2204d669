"""What holds for every job kind: a missing instance, history pruning, the instance
deleted mid-job, a stale view."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from kubernetes_asyncio.client import BatchV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator.controllers.jobs.reconciler import JobReconciler
from odoo_operator.controllers.resources import ODOO_BACKUP_JOBS
from odoo_operator.runtime.cache import Lister, Store
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import ObjectKey, freeze
from tests.instance.conftest import Operator, play_job, running_instance
from tests.instance.test_webhook import Receiver
from tests.jobs.conftest import Jobs, StartOperator
from tests.runtime.helpers import eventually

REF = {"odooInstanceRef": {"name": "shop"}}
S3 = {"bucket": "backups", "objectKey": "shop/1.zip", "endpoint": "http://127.0.0.1:9"}


async def test_a_job_resource_for_a_missing_instance_fails_at_once(jobs: Jobs) -> None:
    await jobs.create("OdooBackupJob", "b1", {"odooInstanceRef": {"name": "nope"},
                                              "destination": S3})  # fmt: skip
    failed = await jobs.wait_phase("OdooBackupJob", "b1", "Failed")
    assert failed["status"]["message"] == f"OdooInstance {jobs.namespace}/nope not found"
    assert failed["status"]["completionTime"]


async def test_job_history_limit_leaves_the_two_newest_terminal_resources_per_kind(
    operator_with: StartOperator,
) -> None:
    operator = await operator_with(job_history_limit=2)
    jobs = Jobs(operator)
    await running_instance(operator, "shop", {})
    for index in range(4):
        name = f"b{index}"
        await jobs.create("OdooBackupJob", name, {**REF, "destination": S3})
        await play_job(operator, "odoobackupjobs", name)
        await jobs.wait_phase("OdooBackupJob", name, "Completed")
    for index in range(3):
        await jobs.create("OdooInitJob", f"i{index}", REF)  # each fails: db initialized
        await jobs.wait_phase("OdooInitJob", f"i{index}", "Failed")

    async def kept(kind: str, expected: list[str]) -> None:
        deadline = asyncio.get_running_loop().time() + 30
        while (found := await jobs.names(kind)) != expected:
            assert asyncio.get_running_loop().time() < deadline, f"{kind}: {found}"
            await asyncio.sleep(0.1)

    await kept("OdooBackupJob", ["b2", "b3"])
    await kept("OdooInitJob", ["i1", "i2"])


async def test_deleting_the_instance_mid_job_stops_its_batch_job_and_fails_the_resource(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooBackupJob", "b1", {**REF, "destination": S3})
    running = await jobs.wait_phase("OdooBackupJob", "b1", "Running")
    await operator.objects.delete_namespaced_custom_object(
        "bemade.org", "v1alpha1", operator.namespace, "odooinstances", "shop"
    )
    failed = await jobs.wait_phase("OdooBackupJob", "b1", "Failed")
    assert "OdooInstance" in failed["status"]["message"]
    with pytest.raises(ApiException) as gone:  # deleted with its pods (Background)
        await BatchV1Api(operator.api).read_namespaced_job(
            running["status"]["jobName"], operator.namespace
        )
    assert gone.value.status == 404


async def test_a_job_controller_whose_cache_lags_never_writes_over_a_newer_status(
    operator: Operator, jobs: Jobs
) -> None:
    """A cache may lag the API server. Seen in CI: a second reconcile, woken by its batch
    Job's event before its own status write had come back, wrote Running over the
    Completed the instance reconciler had just written; the upgrade waiting on that
    backup then went on, and the backup stayed Running for ever."""
    await running_instance(operator, "shop", {})
    created = await jobs.create("OdooBackupJob", "b1", {**REF, "destination": S3})
    await play_job(operator, "odoobackupjobs", "b1")
    completed = await jobs.wait_phase("OdooBackupJob", "b1", "Completed")

    controller = next(c for c in operator.manager.controllers if c.primary == ODOO_BACKUP_JOBS)
    live = controller.reconciler
    assert isinstance(live, JobReconciler)
    lagging = Store()
    lagging.put(freeze(created))  # the resource as it was made: no status yet
    by_kind = {**live.ctx.jobs.by_kind, live.kind.word: Lister(lagging)}
    caches = dataclasses.replace(live.ctx.jobs, by_kind=by_kind)
    stale = JobReconciler(live.kind, dataclasses.replace(live.ctx, jobs=caches))
    with pytest.raises(ApiError) as refused:  # it would admit it (Pending) from that view
        await stale.reconcile(ObjectKey(jobs.namespace, "b1"))
    assert refused.value.conflict
    after = await jobs.get("OdooBackupJob", "b1")
    assert after["metadata"]["resourceVersion"] == completed["metadata"]["resourceVersion"]
    assert after["status"]["phase"] == "Completed"


async def test_the_job_webhook_is_posted_once_when_it_ends_either_way(
    operator: Operator, jobs: Jobs, receiver: Receiver
) -> None:
    hook = {"url": receiver.url, "token": "t0ken"}
    await jobs.create("OdooBackupJob", "lost", {"odooInstanceRef": {"name": "nope"},
                                                "destination": S3, "webhook": hook})  # fmt: skip
    await running_instance(operator, "shop", {})
    await jobs.create("OdooBackupJob", "b1", {**REF, "destination": S3, "webhook": hook})
    name = await play_job(operator, "odoobackupjobs", "b1")
    await jobs.wait_phase("OdooBackupJob", "b1", "Completed")
    await eventually(lambda: len(receiver.received) >= 2, what="two notifications")
    await operator.wait_for_phase("shop", "Running")
    by_name = {r["name"]: r for r in receiver.received}
    assert by_name["lost"]["phase"] == "Failed"
    assert "not found" in by_name["lost"]["message"]
    assert by_name["b1"] == {
        "name": "b1", "namespace": jobs.namespace, "kind": "OdooBackupJob",
        "phase": "Completed", "message": f"batch Job {name} succeeded", "jobName": name,
        "timestamp": by_name["b1"]["timestamp"],
    }  # fmt: skip
    assert receiver.tokens == ["Bearer t0ken", "Bearer t0ken"]
    assert len(receiver.received) == 2  # once each

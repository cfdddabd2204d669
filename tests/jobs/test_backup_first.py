"""Backup before upgrade, rollback on failure, on the real control plane: the test plays
the Job controller and the kubelet (the backup and restore containers run for real in
tests/sandbox/test_backup_first.py). What is checked is what the upgrade resource, its
owned OdooBackupJob / OdooRestoreJob, the instance's phases and its Events say."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio.client import ApiClient

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.instance.conftest import (
    Operator,
    play_job,
    running_instance,
    start_operator,
    stop_operator,
)
from tests.jobs.conftest import OPERATOR_IMAGE, WITHIN, Jobs, phase_changed

REF = {"odooInstanceRef": {"name": "shop"}}
DESTINATION = {"bucket": "backups", "prefix": "before", "endpoint": "http://127.0.0.1:9"}


def condition(job: dict[str, Any], type_: str) -> dict[str, Any] | None:
    found = [c for c in (job.get("status") or {}).get("conditions") or () if c["type"] == type_]
    return found[0] if found else None


def condition_is(type_: str, status: str) -> Any:
    return lambda job: (condition(job, type_) or {}).get("status") == status


async def owned(jobs: Jobs, kind: str, upgrade: str) -> list[dict[str, Any]]:
    """The job resources of `kind` whose controller owner is the upgrade `upgrade`."""
    found = []
    for name in await jobs.names(kind):
        job = await jobs.get(kind, name)
        owners = job["metadata"].get("ownerReferences") or ()
        if any(o["kind"] == "OdooUpgradeJob" and o["name"] == upgrade for o in owners):
            found.append(job)
    return found


async def the_one_owned(jobs: Jobs, kind: str, upgrade: str) -> dict[str, Any]:
    """Wait until the upgrade owns exactly one job resource of `kind`; return it."""
    deadline = asyncio.get_running_loop().time() + WITHIN
    while len(found := await owned(jobs, kind, upgrade)) != 1:
        names = [job["metadata"]["name"] for job in found]
        assert asyncio.get_running_loop().time() < deadline, f"{kind} of {upgrade}: {names}"
        await asyncio.sleep(0.1)
    return found[0]


async def upgrade_batch_jobs(jobs: Jobs) -> list[str]:
    """Names of the batch Jobs an OdooUpgradeJob owns (the ones running `odoo -u`)."""
    return [
        job.metadata.name
        for job in await jobs.batch_jobs()
        if any(o.kind == "OdooUpgradeJob" for o in job.metadata.owner_references or ())
    ]


async def create_schedule(operator: Operator, name: str, destination: dict[str, Any]) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OdooBackupSchedule",
        "metadata": {"name": name, "namespace": operator.namespace},
        "spec": {**REF, "schedule": "0 2 * * *", "destination": destination, "suspend": True},
    }
    await operator.objects.create_namespaced_custom_object(
        GROUP, VERSION, operator.namespace, "odoobackupschedules", body
    )


async def test_with_a_schedule_the_upgrade_backs_up_first_then_runs(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await create_schedule(operator, "nightly", {**DESTINATION, "prefix": "nightly"})
    await jobs.create("OdooUpgradeJob", "up", {**REF, "modules": ["sale"]})
    pending = await jobs.wait("OdooUpgradeJob", "up", condition_is("BackedUp", "Unknown"), "")
    assert pending["status"]["phase"] == "Pending"
    assert "OdooBackupSchedule nightly" in (condition(pending, "BackedUp") or {})["message"]
    backup = await the_one_owned(jobs, "OdooBackupJob", "up")
    key = backup["spec"]["destination"]["objectKey"]
    assert key.startswith(f"nightly/{operator.namespace}/shop/pre-upgrade/")
    assert key.endswith("-up.zip")
    assert (backup["spec"]["format"], backup["spec"]["withFilestore"]) == ("zip", True)
    await operator.wait_for_phase("shop", "BackingUp")
    assert await upgrade_batch_jobs(jobs) == []

    await play_job(operator, "odoobackupjobs", backup["metadata"]["name"])
    await jobs.wait("OdooUpgradeJob", "up", condition_is("BackedUp", "True"), "BackedUp")
    await play_job(operator, "odooupgradejobs", "up")
    done = await jobs.wait_phase("OdooUpgradeJob", "up", "Completed")
    assert condition_is("Completed", "True")(done)
    assert key in (condition(done, "BackedUp") or {})["message"]
    await phase_changed(operator, "Upgrading -> Starting")
    assert await operator.wait_for_event("BackupBeforeUpgrade")
    assert await operator.wait_for_event("BackedUpBeforeUpgrade")
    assert len(await owned(jobs, "OdooBackupJob", "up")) == 1


async def test_a_failed_backup_fails_the_upgrade_which_never_runs(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooUpgradeJob", "up", {**REF, "backupDestination": DESTINATION})
    backup = await the_one_owned(jobs, "OdooBackupJob", "up")
    await play_job(operator, "odoobackupjobs", backup["metadata"]["name"], succeeded=False)
    failed = await jobs.wait_phase("OdooUpgradeJob", "up", "Failed")
    assert failed["status"]["message"].startswith("backup before upgrade failed: batch Job")
    assert condition_is("BackedUp", "False")(failed)
    assert "jobName" not in failed["status"]  # no upgrade Job: the database is untouched
    assert await upgrade_batch_jobs(jobs) == []
    await operator.wait_for_phase("shop", "Running")
    event = await operator.wait_for_event("BackupBeforeUpgradeFailed")
    assert event.type == "Warning"


async def test_backup_first_needs_a_destination_and_false_skips_the_schedule(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooUpgradeJob", "nowhere", {**REF, "backupFirst": True})
    failed = await jobs.wait_phase("OdooUpgradeJob", "nowhere", "Failed")
    assert failed["status"]["message"].startswith("spec.backupFirst: true, but there is nowhere")
    await create_schedule(operator, "nightly", DESTINATION)
    await jobs.create("OdooUpgradeJob", "plain", {**REF, "backupFirst": False})
    await play_job(operator, "odooupgradejobs", "plain")
    done = await jobs.wait_phase("OdooUpgradeJob", "plain", "Completed")
    assert condition(done, "BackedUp") is None
    assert await owned(jobs, "OdooBackupJob", "plain") == []


async def test_a_failed_upgrade_is_rolled_back_once_across_operator_restarts(
    control_plane: ControlPlane,
    api_client: ApiClient,
    namespace: str,
    operator_namespace: str,
    clusters: dict[str, Any],
) -> None:
    """Restarted after the backup was made, and again after the restore was made: still
    one backup and one restore, and the instance goes Upgrading -> Restoring -> Starting."""

    async def start() -> tuple[Operator, asyncio.Task[None]]:
        return await start_operator(control_plane, api_client, namespace, operator_namespace,
                                    operator_image=OPERATOR_IMAGE)  # fmt: skip

    operator, task = await start()
    try:
        jobs = Jobs(operator)
        await running_instance(operator, "shop", {})
        await jobs.create("OdooUpgradeJob", "up", {**REF, "backupDestination": DESTINATION})
        backup = await the_one_owned(jobs, "OdooBackupJob", "up")
        await stop_operator(operator, task)
        operator, task = await start()
        jobs = Jobs(operator)
        await play_job(operator, "odoobackupjobs", backup["metadata"]["name"])
        await jobs.wait("OdooUpgradeJob", "up", condition_is("BackedUp", "True"), "BackedUp")
        assert len(await owned(jobs, "OdooBackupJob", "up")) == 1

        await play_job(operator, "odooupgradejobs", "up", succeeded=False)
        restore = await the_one_owned(jobs, "OdooRestoreJob", "up")
        assert restore["spec"]["neutralize"] is False
        assert restore["spec"]["source"]["s3"] == backup["spec"]["destination"]
        await operator.wait_for_phase("shop", "Restoring")
        failed = await jobs.wait_phase("OdooUpgradeJob", "up", "Failed")
        assert condition_is("BackedUp", "True")(failed)  # kept when finished
        await stop_operator(operator, task)
        operator, task = await start()
        jobs = Jobs(operator)
        await play_job(operator, "odoorestorejobs", restore["metadata"]["name"])
        rolled = await jobs.wait("OdooUpgradeJob", "up", condition_is("RolledBack", "True"), "")
        assert "rolled back: s3://backups/before/" in rolled["status"]["message"]
        assert rolled["status"]["phase"] == "Failed"
        await phase_changed(operator, "Restoring -> Starting")
        assert len(await owned(jobs, "OdooBackupJob", "up")) == 1
        assert len(await owned(jobs, "OdooRestoreJob", "up")) == 1
        for reason in ("RollingBack", "RolledBack"):
            assert await operator.wait_for_event(reason)
    finally:
        await stop_operator(operator, task)

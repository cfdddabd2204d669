"""OdooBackupJob and OdooRestoreJob on the real control plane (the test plays the Job
controller and the kubelet); their containers run for real in tests/sandbox/."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

from kubernetes_asyncio.client import AppsV1Api, CoreV1Api

from odoo_operator.controllers.resources import ODOO_BACKUP_JOBS
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.sandbox.kubelet import finish_job, start_job
from tests.instance.conftest import Operator, play_job, running_instance, write_secret
from tests.jobs.conftest import Jobs, phase_changed, settled
from tests.runtime.helpers import eventually, sample

REF = {"odooInstanceRef": {"name": "shop"}}
S3 = {"bucket": "backups", "objectKey": "shop/1.zip", "endpoint": "http://127.0.0.1:9"}


def destination(operator: Operator) -> dict[str, object]:
    """S3 with the credentials Secret in the operator's namespace (so it must be copied)."""
    ref = {"name": "s3-credentials", "namespace": operator.settings.operator_namespace}
    return {**S3, "s3CredentialsSecretRef": ref}


async def s3_secret(operator: Operator) -> None:
    await write_secret(operator.api, operator.settings.operator_namespace, "s3-credentials",
                       {"accessKey": "AKID", "secretKey": "s3cr3t-value"})  # fmt: skip


async def test_a_backup_runs_while_serving_with_copied_credentials_and_sets_last_backup(
    operator: Operator, jobs: Jobs
) -> None:
    await s3_secret(operator)
    await running_instance(operator, "shop", {})
    await jobs.create("OdooBackupJob", "b1", {**REF, "destination": destination(operator)})
    running = await jobs.wait_phase("OdooBackupJob", "b1", "Running")
    name = running["status"]["jobName"]
    assert await operator.phase("shop") == "BackingUp"
    web = await AppsV1Api(operator.api).read_namespaced_deployment("shop", operator.namespace)
    assert web.spec.replicas == 1  # keeps serving

    batch = await jobs.batch_job(name)
    container = batch.spec.template.spec.containers[0]
    assert container.image == "odoo-operator:test"
    assert container.args[:2] == ["job", "backup"]
    env = {item.name: item for item in container.env}
    assert {n for n, item in env.items() if item.value is not None} == {"PGHOST", "PGPORT"}
    copy = env["AWS_SECRET_ACCESS_KEY"].value_from.secret_key_ref.name
    assert copy == f"{name}-s3"
    copied = await CoreV1Api(operator.api).read_namespaced_secret(copy, operator.namespace)
    assert base64.b64decode(copied.data["secretKey"]).decode() == "s3cr3t-value"
    assert copied.metadata.owner_references[0].name == "b1"
    assert "s3cr3t-value" not in str(running["status"])

    await start_job(operator.api, operator.namespace, name)
    await finish_job(operator.api, operator.namespace, name, succeeded=True)
    await jobs.wait_phase("OdooBackupJob", "b1", "Completed")
    obj = await operator.wait_for_phase("shop", "Running")
    assert obj["status"]["lastBackup"]
    registry = operator.manager.metrics.registry

    def stamp() -> float:
        return sample(registry, "odoo_operator_backup_last_success_timestamp_seconds",
                      namespace=operator.namespace, instance="shop")  # fmt: skip

    # Read from the operator's cache, which may see the status a moment after we do.
    await eventually(lambda: stamp() > 0, within=60, what="the last-backup gauge set")
    secrets = await CoreV1Api(operator.api).list_namespaced_secret(operator.namespace)
    assert copy not in [s.metadata.name for s in secrets.items]  # removed once it ended


async def test_a_backup_runs_while_stopped_and_the_instance_returns_to_stopped(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await operator.patch("shop", {"replicas": 0})
    await operator.wait_for_phase("shop", "Stopped")
    await jobs.create("OdooBackupJob", "b1", {**REF, "destination": S3})
    await operator.wait_for_phase("shop", "BackingUp")
    await play_job(operator, "odoobackupjobs", "b1")
    await jobs.wait_phase("OdooBackupJob", "b1", "Completed")
    obj = await operator.wait_for_phase("shop", "Stopped")
    assert obj["status"]["lastBackup"]


async def test_two_pending_backups_run_one_after_the_other_without_the_phase_flapping(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    first = await jobs.create("OdooBackupJob", "zz-first", {**REF, "destination": S3})
    # creationTimestamp has whole seconds: the second one must be created a second later,
    # or the name would decide (and "aa" would go first).
    created = dt.datetime.fromisoformat(first["metadata"]["creationTimestamp"])
    await asyncio.sleep(
        (created + dt.timedelta(seconds=1) - dt.datetime.now(dt.UTC)).total_seconds()
    )
    await jobs.create("OdooBackupJob", "aa-second", {**REF, "destination": S3})
    first = await jobs.wait_phase("OdooBackupJob", "zz-first", "Running")
    await jobs.wait_phase("OdooBackupJob", "aa-second", "Pending")
    await settled(operator, ODOO_BACKUP_JOBS, ObjectKey(jobs.namespace, "aa-second"), "Pending")
    second = await jobs.get("OdooBackupJob", "aa-second")
    assert "jobName" not in second["status"]  # waits behind the first
    backups = [j for j in await jobs.batch_jobs() if "-backup-" in j.metadata.name]
    assert len(backups) == 1

    await start_job(operator.api, operator.namespace, first["status"]["jobName"])
    await finish_job(operator.api, operator.namespace, first["status"]["jobName"], succeeded=True)
    await jobs.wait_phase("OdooBackupJob", "zz-first", "Completed")
    second = await jobs.wait_phase("OdooBackupJob", "aa-second", "Running")
    assert await operator.phase("shop") == "BackingUp"
    await play_job(operator, "odoobackupjobs", "aa-second", succeeded=False)
    await jobs.wait_phase("OdooBackupJob", "aa-second", "Failed")
    await operator.wait_for_phase("shop", "Running")
    await operator.manager.recorder.flush()
    changes = [e.note for e in await operator.events("PhaseChanged")]
    assert changes.count("Running -> BackingUp") == 1
    assert changes.count("BackingUp -> Running") == 1


async def test_a_restore_stops_odoo_and_its_success_marks_the_database_initialized(
    operator: Operator, jobs: Jobs
) -> None:
    await operator.create("shop", {})
    await operator.wait_for_phase("shop", "Uninitialized")
    spec = {**REF, "source": {"type": "s3", "s3": S3}}
    await jobs.create("OdooRestoreJob", "r1", spec)
    running = await jobs.wait_phase("OdooRestoreJob", "r1", "Running")
    assert await operator.phase("shop") == "Restoring"
    batch = await jobs.batch_job(running["status"]["jobName"])
    assert [c.name for c in batch.spec.template.spec.init_containers] == ["restore"]
    assert batch.spec.template.spec.containers[0].args[0] == "neutralize"
    await play_job(operator, "odoorestorejobs", "r1")
    await jobs.wait_phase("OdooRestoreJob", "r1", "Completed")
    await phase_changed(operator, "Restoring -> Starting")
    obj = await operator.get("shop")
    assert obj["status"]["dbInitialized"] is True


async def test_a_failed_restore_returns_to_starting_or_uninitialized(
    operator: Operator, jobs: Jobs
) -> None:
    spec = {**REF, "source": {"type": "s3", "s3": S3}}
    await running_instance(operator, "shop", {})
    await jobs.create("OdooRestoreJob", "r1", spec)
    await operator.wait_for_phase("shop", "Restoring")
    apps = AppsV1Api(operator.api)
    web = await apps.read_namespaced_deployment("shop", operator.namespace)
    assert web.spec.replicas == 0  # web and cron at 0 while restoring
    await play_job(operator, "odoorestorejobs", "r1", succeeded=False)
    await jobs.wait_phase("OdooRestoreJob", "r1", "Failed")
    await phase_changed(operator, "Restoring -> Starting")  # initialized before: old db kept

    new = {**spec, "odooInstanceRef": {"name": "fresh"}}
    await operator.create("fresh", {})
    await operator.wait_for_phase("fresh", "Uninitialized")
    await jobs.create("OdooRestoreJob", "r2", new)
    await operator.wait_for_phase("fresh", "Restoring")
    await play_job(operator, "odoorestorejobs", "r2", succeeded=False)
    await jobs.wait_phase("OdooRestoreJob", "r2", "Failed")
    obj = await operator.wait_for_phase("fresh", "Uninitialized")
    assert obj["status"]["dbInitialized"] is False


async def test_a_restore_source_without_its_block_fails_at_once(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooRestoreJob", "r1", {**REF, "source": {"type": "s3"}})
    failed = await jobs.wait_phase("OdooRestoreJob", "r1", "Failed")
    assert "spec.source.s3 is required" in failed["status"]["message"]
    assert await operator.phase("shop") == "Running"


async def test_missing_s3_credentials_fail_the_backup_naming_the_field(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooBackupJob", "b1", {**REF, "destination": destination(operator)})
    failed = await jobs.wait_phase("OdooBackupJob", "b1", "Failed")
    assert "spec.destination.s3CredentialsSecretRef" in failed["status"]["message"]
    assert "not found" in failed["status"]["message"]
    await operator.wait_for_phase("shop", "Running")

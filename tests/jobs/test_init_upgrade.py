"""OdooInitJob and OdooUpgradeJob on the real control plane: the test plays the Job
controller and the kubelet (`sandbox.kubelet`)."""

from __future__ import annotations

import datetime as dt

from kubernetes_asyncio.client import AppsV1Api

from odoo_operator.sandbox.kubelet import finish_job, start_job
from tests.instance.conftest import Operator, play_job, running_instance, wait_for_replicas
from tests.jobs.conftest import Jobs, phase_changed

REF = {"odooInstanceRef": {"name": "shop"}}


async def test_a_user_init_job_runs_odoo_install_and_completes(
    operator: Operator, jobs: Jobs
) -> None:
    await operator.create("shop", {})
    await operator.wait_for_phase("shop", "Uninitialized")
    await jobs.create("OdooInitJob", "init", {**REF, "modules": ["base", "sale"]})
    await operator.wait_for_phase("shop", "Initializing")
    running = await jobs.wait_phase("OdooInitJob", "init", "Running")
    name = running["status"]["jobName"]
    assert running["status"]["startTime"]
    batch = await jobs.batch_job(name)
    assert batch.spec.backoff_limit == 0
    assert batch.spec.ttl_seconds_after_finished == 900
    assert batch.spec.active_deadline_seconds == 3600
    owner = batch.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("OdooInitJob", "init", True)
    container = batch.spec.template.spec.containers[0]
    assert container.args[2:4] == ["-i", "base,sale"]

    await start_job(operator.api, operator.namespace, name)
    await finish_job(operator.api, operator.namespace, name, succeeded=True)
    done = await jobs.wait_phase("OdooInitJob", "init", "Completed")
    assert done["status"]["completionTime"]
    assert done["status"]["conditions"][0]["status"] == "True"
    obj = await operator.wait_for_phase("shop", "Starting")
    assert obj["status"]["dbInitialized"] is True


async def test_a_failed_init_job_is_failed_with_the_reason_and_the_instance_init_failed(
    operator: Operator, jobs: Jobs
) -> None:
    await operator.create("shop", {})
    await operator.wait_for_phase("shop", "Uninitialized")
    await jobs.create("OdooInitJob", "init", REF)
    name = await play_job(operator, "odooinitjobs", "init", succeeded=False)
    failed = await jobs.wait_phase("OdooInitJob", "init", "Failed")
    assert f"batch Job {name} failed" in failed["status"]["message"]
    assert "BackoffLimitExceeded" in failed["status"]["message"]
    assert f"kubectl logs job/{name}" in failed["status"]["message"]
    await operator.wait_for_phase("shop", "InitFailed")


async def test_init_on_an_initialized_database_fails_at_once_and_the_instance_stays(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    await jobs.create("OdooInitJob", "again", REF)
    failed = await jobs.wait_phase("OdooInitJob", "again", "Failed")
    assert "already initialized" in failed["status"]["message"]
    assert "jobName" not in failed["status"]
    assert await operator.phase("shop") == "Running"
    await operator.manager.recorder.flush()
    changes = [e.note for e in await operator.events("PhaseChanged")]
    assert [change for change in changes if change.startswith("Running ->")] == []


async def test_an_upgrade_on_a_never_initialized_database_fails_at_once(
    operator: Operator, jobs: Jobs
) -> None:
    await operator.create("shop", {})
    await operator.wait_for_phase("shop", "Uninitialized")
    await jobs.create("OdooUpgradeJob", "up", REF)
    failed = await jobs.wait_phase("OdooUpgradeJob", "up", "Failed")
    assert "never initialized" in failed["status"]["message"]


async def test_a_scheduled_upgrade_starts_at_its_time_with_cron_stopped_then_restarts_web(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    apps = AppsV1Api(operator.api)
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)).replace(microsecond=0)
    await jobs.create("OdooUpgradeJob", "up", {**REF, "modules": ["sale"],
                                               "scheduledTime": at.isoformat()})  # fmt: skip
    pending = await jobs.wait_phase("OdooUpgradeJob", "up", "Pending")
    assert "scheduled for" in pending["status"]["message"]
    running = await jobs.wait_phase("OdooUpgradeJob", "up", "Running")
    name = running["status"]["jobName"]
    created = (await jobs.batch_job(name)).metadata.creation_timestamp
    assert at <= created <= at + dt.timedelta(seconds=2), (at, created)
    assert await operator.phase("shop") == "Upgrading"
    await wait_for_replicas(operator, "shop-cron", 0)
    web = await apps.read_namespaced_deployment("shop", operator.namespace)
    assert web.spec.replicas == 1  # web keeps serving
    restarted_before = (web.spec.template.metadata.annotations or {}).get(
        "kubectl.kubernetes.io/restartedAt"
    )
    assert restarted_before is None

    await start_job(operator.api, operator.namespace, name)
    await finish_job(operator.api, operator.namespace, name, succeeded=True)
    await jobs.wait_phase("OdooUpgradeJob", "up", "Completed")
    await phase_changed(operator, "Upgrading -> Starting")
    web = await apps.read_namespaced_deployment("shop", operator.namespace)
    assert "kubectl.kubernetes.io/restartedAt" in web.spec.template.metadata.annotations
    await wait_for_replicas(operator, "shop-cron", 1)


async def test_deleting_a_running_upgrade_leaves_upgrading_by_its_row(
    operator: Operator, jobs: Jobs
) -> None:
    await running_instance(operator, "shop", {})
    created = await jobs.create("OdooUpgradeJob", "up", REF)
    running = await jobs.wait_phase("OdooUpgradeJob", "up", "Running")
    batch = await jobs.batch_job(running["status"]["jobName"])
    assert batch.metadata.owner_references[0].uid == created["metadata"]["uid"]  # GC'd with it
    await operator.wait_for_phase("shop", "Upgrading")
    await jobs.delete("OdooUpgradeJob", "up")
    await phase_changed(operator, "Upgrading -> Starting")

"""Verification by restore: the verify batch Job of a schedule's newest backup, its
verdict, the instance's `BackupVerified` condition and the metric.

Guarantees:
- the Job is `jobs.verify.build` (the restore Job's builders and credentials handling),
  owned by the schedule, named `jobs.naming.batch_job_name("verify", <backup>, <its uid>)`:
  one per backup, created once (create-or-get; a Job of that name owned by anything else
  is never taken for it);
- its verdict is the batch Job's own: `Complete` -> Passed, `Failed` -> Failed with the
  Job's reason and message and where its log is; a Job that vanished before it finished
  is Failed too. Nothing else counts as a pass;
- the instance's condition `BackupVerified` (True, reason `Passed`; False, reason
  `Failed`) is written by a merge patch of the instance's status conditions (the cached
  list with that one condition replaced), guarded by the cached resourceVersion: a
  stale cache gets a 409 and the reconcile is retried, so the instance controller's
  conditions are never overwritten by old ones. The instance controller carries the
  condition over in its own writes (`instance.status`); should one of them bring back
  an older value from a stale cache, the instance's update reconciles the schedule,
  which writes it again (`_sync_instance_condition` in the reconciler);
- `odoo_operator_backup_last_verified_timestamp_seconds{namespace,schedule,instance}`
  is read at each scrape from the schedules' `status.lastPassedVerification`, so it is
  the time of the last verification that **passed** and survives a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import ValidationError

from odoo_operator.api.backup_schedule import OdooBackupScheduleSpec
from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance.clusters import ClustersError, pick
from odoo_operator.controllers.instance.status import BACKUP_VERIFIED, now
from odoo_operator.controllers.jobs import credentials, naming
from odoo_operator.controllers.jobs import verify as verify_job
from odoo_operator.controllers.jobs.batch import CannotRun, Target
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.resources import ODOO_INSTANCES
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import (
    KubeObject,
    controller_owner,
    parse_time,
    thaw,
)
from odoo_operator.runtime.resources import BATCH_JOBS

CONDITION = BACKUP_VERIFIED


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


def job_name(backup: KubeObject) -> str:
    metadata = backup["metadata"]
    return naming.batch_job_name("verify", metadata["name"], metadata["uid"])


def _true(batch_job: KubeObject, kind: str) -> dict[str, Any] | None:
    for found in (batch_job.get("status") or {}).get("conditions") or ():
        if found.get("type") == kind and found.get("status") == "True":
            return dict(found)
    return None


def verdict(batch_job: KubeObject | None, name: str, key: str) -> Verdict | None:
    """The verdict of the verify Job `name` for the backup `key`; None while it runs."""
    if batch_job is None:
        return Verdict(False, f"verification Job {name} vanished before it finished")
    if _true(batch_job, "Complete") is not None:
        return Verdict(True, f"{key} restored into a scratch database and checked")
    failed = _true(batch_job, "Failed")
    if failed is None:
        return None
    why = ": ".join(str(p) for p in (failed.get("reason"), failed.get("message")) if p)
    return Verdict(False, f"{key} did not verify ({why}); see kubectl logs job/{name}")


async def start(
    ctx: JobContext,
    schedule: KubeObject,
    spec: OdooBackupScheduleSpec,
    instance_obj: KubeObject,
    *,
    name: str,
    key: str,
) -> None:
    """Create the verify Job `name` for the backup `key` (or find it); `CannotRun` says
    why it cannot be made."""
    try:
        instance = OdooInstance.model_validate(thaw(instance_obj))
    except ValidationError as error:
        raise CannotRun(f"the OdooInstance is invalid: {error.errors()[0]['msg']}") from None
    try:
        cluster = pick(
            ctx.clusters(), instance.spec.database.cluster, ctx.settings.postgres_clusters_secret
        )
    except ClustersError as error:
        raise CannotRun(str(error)) from None
    target = Target(
        job=schedule,
        job_name=name,
        instance=instance,
        database=instance.spec.database.name or "",
        db_host=cluster.host,
        db_port=cluster.port,
        operator_image=ctx.settings.operator_image,
    )
    where = spec.destination
    secret = await credentials.s3_secret_for(
        ctx, "spec.destination", where.s3_credentials_secret_ref, target
    )
    target = dataclasses.replace(target, s3_secret=secret)
    body = verify_job.build(
        target, spec.format, (where.endpoint, where.bucket, key, where.region, where.insecure)
    )
    created: KubeObject
    try:
        created = await ctx.client.create(BATCH_JOBS, body)
    except ApiError as error:
        if not error.conflict:
            raise
        created = await ctx.client.get(BATCH_JOBS, name, target.namespace)
        if (controller_owner(created) or {}).get("uid") != schedule["metadata"]["uid"]:
            raise CannotRun(f"a batch Job named {name} exists and is not this schedule's") from None
    ctx.jobs.writes.remember(BATCH_JOBS, created)


async def finished(ctx: JobContext, namespace: str, name: str) -> None:
    """The verify Job ended: delete the credentials copied for it."""
    await credentials.remove(ctx, namespace, name)


def instance_condition(passed: bool, message: str, instance: KubeObject | None) -> dict[str, Any]:
    status = "True" if passed else "False"
    moment = now()
    since = moment
    for old in ((instance or {}).get("status") or {}).get("conditions") or ():
        if old.get("type") == CONDITION and old.get("status") == status:
            since = old.get("lastTransitionTime") or moment
    return {
        "type": CONDITION,
        "status": status,
        "reason": "Passed" if passed else "Failed",
        "message": message,
        "lastTransitionTime": since,
    }


async def mark_instance(ctx: JobContext, instance: KubeObject, condition: dict[str, Any]) -> None:
    """Write the instance's `BackupVerified` condition (see the guarantees)."""
    metadata = instance["metadata"]
    kept = [
        dict(found)
        for found in (instance.get("status") or {}).get("conditions") or ()
        if found.get("type") != CONDITION
    ]
    patch = {
        "metadata": {"resourceVersion": metadata["resourceVersion"]},
        "status": {"conditions": [*kept, condition]},
    }
    try:
        await ctx.client.merge_patch(
            ODOO_INSTANCES, metadata["name"], patch, metadata["namespace"], subresource="status"
        )
    except ApiError as error:
        if not error.not_found:
            raise


class LastVerified(Collector):
    """`odoo_operator_backup_last_verified_timestamp_seconds`, from the schedule cache."""

    def __init__(self, schedules: Lister) -> None:
        self.schedules = schedules

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "odoo_operator_backup_last_verified_timestamp_seconds",
            "Time of the last verification by restore that passed (Unix seconds).",
            labels=["namespace", "schedule", "instance"],
        )
        for schedule in self.schedules.list():
            passed = (schedule.get("status") or {}).get("lastPassedVerification")
            if passed:
                metadata = schedule["metadata"]
                ref = (schedule.get("spec") or {}).get("odooInstanceRef") or {}
                family.add_metric(
                    [metadata["namespace"], metadata["name"], str(ref.get("name") or "")],
                    parse_time(passed).timestamp(),
                )
        yield family

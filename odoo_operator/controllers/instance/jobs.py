"""The instance's view of its job resources: one slot per kind, and finishing one.

This is the seam with the job resources controller (which creates and watches the batch
Jobs): the instance reconciler reads, from the caches only, which job resource of each
kind is being processed and where its batch Job stands; the state table decides; a
`finish` action records the outcome on the job resource.

Guarantees:
- a job resource belongs to the instance `spec.odooInstanceRef` names (namespace
  defaulting to the job's own); `INSTANCE_INDEX` indexes the job caches by that key;
- the slot of a kind is the oldest non-terminal job resource (creationTimestamp, then
  name), "non-terminal" meaning `status.phase` is neither Completed nor Failed;
- its outcome: no `status.jobName` yet -> NotStarted; the named batch Job in the cache
  with a `Complete` condition -> Succeeded, with `Failed` -> Failed, otherwise Running;
  named but absent from the cache -> Failed (vanished). Batch Jobs are cached by the
  managed-by label (`names.CHILD_SELECTOR`), so the job resources controller must label
  them; it should also check with the API server before acting on "vanished";
- an upgrade is due once its `scheduledTime` (if any) has passed;
- `finish` merge-patches only `phase`, `completionTime` and `message` of the job's
  status (what the job resources controller wrote stays), then sends the job's webhook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from odoo_operator.api.base import JobPhase, WebhookSpec
from odoo_operator.controllers.instance.snapshot import JobOutcome, JobSlot
from odoo_operator.controllers.instance.status import now
from odoo_operator.controllers.notify import Notification, Notifier
from odoo_operator.controllers.resources import (
    ODOO_BACKUP_JOBS,
    ODOO_INIT_JOBS,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.objects import KubeObject, ObjectKey, parse_time
from odoo_operator.runtime.resources import Resource

INSTANCE_INDEX = "instance"
TERMINAL = {JobPhase.COMPLETED.value, JobPhase.FAILED.value}
# Slot name in the snapshot -> the kind's REST collection.
KINDS: dict[str, Resource] = {
    "init": ODOO_INIT_JOBS,
    "restore": ODOO_RESTORE_JOBS,
    "upgrade": ODOO_UPGRADE_JOBS,
    "backup": ODOO_BACKUP_JOBS,
}


def instance_of(job: KubeObject) -> ObjectKey:
    """The key of the instance a job resource targets."""
    reference = (job.get("spec") or {}).get("odooInstanceRef") or {}
    namespace = reference.get("namespace") or job["metadata"].get("namespace") or ""
    return ObjectKey(namespace, str(reference.get("name") or ""))


def instance_index(job: KubeObject) -> Iterable[str]:
    key = instance_of(job)
    return [str(key)] if key.name else []


def instance_keys(job: KubeObject) -> Iterable[ObjectKey]:
    """Mapper: a job resource event reconciles its instance."""
    key = instance_of(job)
    return [key] if key.name else []


def pending(jobs: Lister, instance: ObjectKey) -> list[KubeObject]:
    """Non-terminal job resources of one kind for `instance`, oldest first."""
    waiting = [
        job
        for job in jobs.by_index(INSTANCE_INDEX, str(instance))
        if (job.get("status") or {}).get("phase") not in TERMINAL
    ]
    return sorted(
        waiting,
        key=lambda job: (job["metadata"].get("creationTimestamp", ""), job["metadata"]["name"]),
    )


def _condition(batch_job: KubeObject, kind: str) -> bool:
    conditions = (batch_job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def outcome(job: KubeObject, batch_jobs: Lister) -> JobOutcome:
    name = (job.get("status") or {}).get("jobName")
    if not name:
        return JobOutcome.NOT_STARTED
    batch_job = batch_jobs.get(ObjectKey(job["metadata"]["namespace"], name))
    if batch_job is None or _condition(batch_job, "Failed"):
        return JobOutcome.FAILED
    if _condition(batch_job, "Complete"):
        return JobOutcome.SUCCEEDED
    return JobOutcome.RUNNING


def due_at(job: KubeObject) -> dt.datetime | None:
    scheduled = (job.get("spec") or {}).get("scheduledTime")
    return parse_time(scheduled) if scheduled else None


def slot(job: KubeObject, batch_jobs: Lister, moment: dt.datetime) -> JobSlot:
    due = due_at(job)
    return JobSlot(
        name=job["metadata"]["name"],
        namespace=job["metadata"]["namespace"],
        outcome=outcome(job, batch_jobs),
        due=due is None or due <= moment,
    )


async def finish(
    client: KubeClient,
    notifier: Notifier,
    kind: str,
    job: KubeObject | None,
    slot_: JobSlot,
) -> None:
    """Mark the job resource Completed or Failed and send its webhook."""
    succeeded = slot_.outcome is JobOutcome.SUCCEEDED
    phase = JobPhase.COMPLETED if succeeded else JobPhase.FAILED
    if slot_.outcome is JobOutcome.FAILED and job is not None:
        name = (job.get("status") or {}).get("jobName")
        message = f"batch Job {name} failed or vanished" if name else "failed"
    else:
        message = "completed" if succeeded else "job resource vanished"
    status: dict[str, Any] = {"phase": phase.value, "completionTime": now(), "message": message}
    resource = KINDS[kind]
    if job is not None:
        await client.merge_patch(
            resource, slot_.name, {"status": status}, slot_.namespace, subresource="status"
        )
        webhook = (job.get("spec") or {}).get("webhook")
        if webhook:
            payload = {
                "name": slot_.name,
                "namespace": slot_.namespace,
                "kind": resource.kind,
                "phase": phase.value,
                "message": message,
                "timestamp": status["completionTime"],
            }
            notifier.notify(
                Notification(WebhookSpec.model_validate(webhook), slot_.namespace, payload)
            )

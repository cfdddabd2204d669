"""The instance's view of its job resources: one slot per kind, and finishing one.

This is the seam with the job resources controller (which creates and watches the batch
Jobs): the instance reconciler reads, from the caches only, which job resource of each
kind is being processed and where its batch Job stands; the state table decides; a
`finish` action records the outcome on the job resource.

Guarantees:
- a job resource belongs to the instance `spec.odooInstanceRef` names (namespace
  defaulting to the job's own); `INSTANCE_INDEX` indexes the job caches by that key;
- the slot of a kind is the oldest admitted, unfinished job resource (creationTimestamp,
  then name): `status.phase` Pending or Running. The job controller writes Pending only
  once it has checked that the resource can apply, so a resource that cannot (a missing
  source, an init for an initialised database) never moves the instance's phase;
- its outcome: no `status.jobName` yet -> NotStarted; the named batch Job in the cache
  with a `Complete` condition -> Succeeded, with `Failed` -> Failed, otherwise Running;
  named but absent (from the cache and from what this process just created, see
  `JobCaches.batch_job`) -> Failed (vanished). Batch Jobs are cached by the managed-by
  label (`names.CHILD_SELECTOR`); the job controllers label them;
- an upgrade is due once its `scheduledTime` (if any) has passed; one that backs up
  first (condition `BackedUp`, see `controllers.jobs.backup_first`) awaits its backup
  until that condition is True, and rolls back (when it fails) until `RolledBack` is set;
- `finish` merge-patches `phase`, `completionTime`, `message` and the condition of the
  job's status (what the job controller wrote stays; see `controllers.jobs.status`),
  the message saying why a batch Job failed and where its log is; then it sends the
  job's webhook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from odoo_operator.api.base import JobPhase
from odoo_operator.controllers.instance.snapshot import JobOutcome, JobSlot
from odoo_operator.controllers.jobs import status as job_status
from odoo_operator.controllers.notify import Notifier
from odoo_operator.controllers.resources import (
    ODOO_BACKUP_JOBS,
    ODOO_INIT_JOBS,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.objects import KubeObject, ObjectKey, parse_time
from odoo_operator.runtime.resources import Resource

FindBatchJob = Callable[[ObjectKey], KubeObject | None]
INSTANCE_INDEX = "instance"
# Admitted by its job controller (checked that it can apply) and not finished.
ADMITTED = {JobPhase.PENDING.value, JobPhase.RUNNING.value}
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


def oldest_first(jobs: Iterable[KubeObject]) -> list[KubeObject]:
    """By creationTimestamp, then name: the order job resources are processed in."""
    return sorted(
        jobs,
        key=lambda job: (job["metadata"].get("creationTimestamp", ""), job["metadata"]["name"]),
    )


def pending(jobs: Lister, instance: ObjectKey) -> list[KubeObject]:
    """Admitted, unfinished job resources of one kind for `instance`, oldest first."""
    waiting = [
        job
        for job in jobs.by_index(INSTANCE_INDEX, str(instance))
        if (job.get("status") or {}).get("phase") in ADMITTED
    ]
    return oldest_first(waiting)


def _condition(batch_job: KubeObject, kind: str) -> bool:
    conditions = (batch_job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def outcome(job: KubeObject, find_batch_job: FindBatchJob) -> JobOutcome:
    name = (job.get("status") or {}).get("jobName")
    if not name:
        return JobOutcome.NOT_STARTED
    batch_job = find_batch_job(ObjectKey(job["metadata"]["namespace"], name))
    if batch_job is None or _condition(batch_job, "Failed"):
        return JobOutcome.FAILED
    if _condition(batch_job, "Complete"):
        return JobOutcome.SUCCEEDED
    return JobOutcome.RUNNING


def due_at(job: KubeObject) -> dt.datetime | None:
    scheduled = (job.get("spec") or {}).get("scheduledTime")
    return parse_time(scheduled) if scheduled else None


def slot(job: KubeObject, find_batch_job: FindBatchJob, moment: dt.datetime) -> JobSlot:
    due = due_at(job)
    backed_up = job_status.find_condition(job, job_status.BACKED_UP)
    backed_up_status = None if backed_up is None else backed_up.get("status")
    rolled_back = job_status.find_condition(job, job_status.ROLLED_BACK)
    return JobSlot(
        name=job["metadata"]["name"],
        namespace=job["metadata"]["namespace"],
        outcome=outcome(job, find_batch_job),
        due=due is None or due <= moment,
        awaits_backup=backed_up is not None and backed_up_status != "True",
        rolls_back=backed_up_status == "True" and rolled_back is None,
    )


def _failure(batch_job: KubeObject | None, name: str) -> str:
    """Why the batch Job failed, from its `Failed` condition, and where its log is."""
    if batch_job is None:
        return f"batch Job {name} vanished before it finished"
    for found in (batch_job.get("status") or {}).get("conditions") or ():
        if found.get("type") == "Failed" and found.get("status") == "True":
            why = ": ".join(str(p) for p in (found.get("reason"), found.get("message")) if p)
            return f"batch Job {name} failed ({why}); see kubectl logs job/{name}"
    return f"batch Job {name} failed; see kubectl logs job/{name}"


async def finish(
    client: KubeClient,
    notifier: Notifier,
    kind: str,
    job: KubeObject | None,
    slot_: JobSlot,
    *,
    find_batch_job: FindBatchJob,
) -> None:
    """Mark the job resource Completed or Failed and send its webhook.

    The patch carries the cached resourceVersion: when the resource changed since (it was
    finished already and the cache is late), the server answers 409, which is raised so
    the reconcile is retried on fresher caches; nothing is finished or sent twice.
    """
    if job is None:  # the resource itself is gone: nothing to record
        return
    succeeded = slot_.outcome is JobOutcome.SUCCEEDED
    name = str((job.get("status") or {}).get("jobName") or "")
    if succeeded:
        phase, message = JobPhase.COMPLETED, f"batch Job {name} succeeded"
    else:
        batch_job = find_batch_job(ObjectKey(slot_.namespace, name)) if name else None
        phase, message = JobPhase.FAILED, _failure(batch_job, name)
    resource = KINDS[kind]
    status = job_status.fields(job, phase, message)
    try:
        await job_status.write(client, resource, job, status)
    except ApiError as error:
        if error.not_found:
            return
        raise
    job_status.ended(notifier, resource, job, status)

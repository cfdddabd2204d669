"""The OdooBackupJobs a schedule makes: deterministic names, their bodies, their outcomes.

Guarantees:
- the backup of tick `t` is named `<schedule>-<t in UTC as yyyymmddhhmm>` (within 63
  characters by `jobs.naming.fit`), so making it twice is impossible: a second create
  answers 409 and the existing resource is taken when the schedule is its controller
  owner (an operator restarted between the create and the status write finds it);
- its object key is `backups.keys.backup_key(prefix, namespace, instance, t, format)`;
- it is owned by the schedule (controller reference: deleting the schedule deletes its
  OdooBackupJobs, whose batch Jobs go with them), labelled with the schedule's name and
  annotated with its tick (`TICK_ANNOTATION`, RFC 3339): `last_tick` reads the newest
  tick made from the backups themselves, so a reconcile whose copy of the schedule is
  older than its copy of the backups never goes back to an earlier tick;
- a schedule's backups are the OdooBackupJobs it is the controller owner of (by uid).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from odoo_operator.api.backup_schedule import OdooBackupScheduleSpec
from odoo_operator.backups.keys import backup_key
from odoo_operator.controllers.instance.jobs import INSTANCE_INDEX, oldest_first
from odoo_operator.controllers.jobs import naming
from odoo_operator.controllers.jobs.batch import owner_reference
from odoo_operator.controllers.jobs.status import is_terminal, phase_of
from odoo_operator.controllers.resources import ODOO_BACKUP_JOBS
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.objects import KubeObject, ObjectKey, controller_owner, parse_time

SCHEDULE_LABEL = "bemade.org/backup-schedule"
TICK_ANNOTATION = "bemade.org/scheduled-at"
TICK_FORMAT = "%Y%m%d%H%M"
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def job_name(schedule: str, tick: datetime) -> str:
    """`<schedule>-<yyyymmddhhmm UTC>`, at most 63 characters."""
    stamp = tick.astimezone(UTC).strftime(TICK_FORMAT)
    return naming.fit(schedule, f"-{stamp}", schedule)


def instance_key(schedule: KubeObject, spec: OdooBackupScheduleSpec) -> ObjectKey:
    ref = spec.odoo_instance_ref
    return ObjectKey(ref.namespace or schedule["metadata"]["namespace"], ref.name)


def object_key(schedule: KubeObject, spec: OdooBackupScheduleSpec, tick: datetime) -> str:
    ref = spec.odoo_instance_ref
    namespace = ref.namespace or schedule["metadata"]["namespace"]
    return backup_key(spec.destination.prefix, namespace, ref.name, tick, spec.format.value)


def body(schedule: KubeObject, spec: OdooBackupScheduleSpec, tick: datetime) -> dict[str, Any]:
    """The OdooBackupJob of `tick`."""
    metadata = schedule["metadata"]
    where = spec.destination
    destination: dict[str, Any] = {
        "bucket": where.bucket,
        "objectKey": object_key(schedule, spec, tick),
        "endpoint": where.endpoint,
        "insecure": where.insecure,
    }
    if where.region:
        destination["region"] = where.region
    if where.s3_credentials_secret_ref is not None:
        destination["s3CredentialsSecretRef"] = where.s3_credentials_secret_ref.model_dump(
            by_alias=True, exclude_none=True
        )
    return {
        "apiVersion": ODOO_BACKUP_JOBS.api_version,
        "kind": ODOO_BACKUP_JOBS.kind,
        "metadata": {
            "name": job_name(metadata["name"], tick),
            "namespace": metadata["namespace"],
            "labels": {SCHEDULE_LABEL: metadata["name"]},
            "annotations": {TICK_ANNOTATION: tick.astimezone(UTC).strftime(RFC3339)},
            "ownerReferences": [owner_reference(schedule)],
        },
        "spec": {
            "odooInstanceRef": spec.odoo_instance_ref.model_dump(by_alias=True, exclude_none=True),
            "destination": destination,
            "format": spec.format.value,
            "withFilestore": spec.with_filestore,
        },
    }


def owned(schedule: KubeObject, jobs: Lister, instance: ObjectKey) -> list[KubeObject]:
    """The schedule's OdooBackupJobs, oldest first."""
    return oldest_first(
        job for job in jobs.by_index(INSTANCE_INDEX, str(instance)) if is_ours(schedule, job)
    )


def is_ours(schedule: KubeObject, job: KubeObject) -> bool:
    return bool((controller_owner(job) or {}).get("uid") == schedule["metadata"]["uid"])


def unfinished(jobs: list[KubeObject]) -> tuple[str, ...]:
    return tuple(job["metadata"]["name"] for job in jobs if not is_terminal(job))


def newest_finished(jobs: list[KubeObject]) -> KubeObject | None:
    ended = [job for job in jobs if is_terminal(job)]
    return ended[-1] if ended else None


def last_tick(jobs: list[KubeObject]) -> datetime | None:
    """The newest tick among the schedule's backups (from `TICK_ANNOTATION`)."""
    ticks = [
        parse_time(stamp)
        for job in jobs
        if (stamp := (job["metadata"].get("annotations") or {}).get(TICK_ANNOTATION))
    ]
    return max(ticks, default=None)


def succeeded(job: KubeObject) -> bool:
    return phase_of(job) == "Completed"


def key_of_backup(job: KubeObject) -> str:
    return str(((job.get("spec") or {}).get("destination") or {}).get("objectKey") or "")

"""Backup before upgrade, rollback on failure: an OdooUpgradeJob with `spec.backupFirst`
(issue 13; docs/backups.md "Backup before upgrade").

It is composed of the job kinds that exist, each run by its own controller and by the
instance's state table; the upgrade controller (`JobReconciler` of kind upgrade) calls
this module at each of its steps:

1. admission (`admission_conditions`): whether a backup comes first is decided once.
   `backupFirst` unset means true when there is a destination: `spec.backupDestination`,
   else the destination of the oldest OdooBackupSchedule that targets the instance.
   `backupFirst: true` with neither fails the upgrade, naming the field. A backup to come
   is recorded as the condition `BackedUp=Unknown`;
2. once the upgrade is due and the oldest pending upgrade of its instance (`back_up`):
   the OdooBackupJob `<upgrade>-pre-upgrade-<hash>` (zip, with filestore), owned by the
   upgrade, to `<prefix>/<namespace>/<instance>/pre-upgrade/<UTC timestamp>-<upgrade>.zip`
   (`backups.keys.pre_upgrade_key`: a key the schedule's retention never counts or
   prunes). The state table does not let the upgrade run while `BackedUp` is not True;
3. that backup Completed: `BackedUp=True`, and the upgrade proceeds as any other.
   Failed: the upgrade is Failed ("backup before upgrade failed: ..."), `BackedUp=False`;
   its batch Job never existed, so the database is untouched;
4. the upgrade's batch Job failed (`roll_back`): the OdooRestoreJob
   `<upgrade>-rollback-<hash>` from that object, `neutralize: false` (the instance's own
   data), owned by the upgrade. The state table takes the instance Upgrading -> Restoring
   once it is admitted (finishing the upgrade as Failed), then Restoring -> Starting; the
   restore is the runner's crash-safe swap;
5. that restore ended: `RolledBack=True` (or False) and the outcome appended to
   `status.message`.
Every step records an Event on the instance.

Guarantees: the backup and the restore have names derived from the upgrade's name and
uid and are created with create-or-get (a name taken by an object this upgrade does not
own fails the upgrade), so an operator restarted at any point never makes a second
backup or restore; status writes carry the cached resourceVersion (a stale view is
retried, never written over a newer one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from odoo_operator.api.base import API_VERSION, JobPhase
from odoo_operator.api.job_resources import (
    BackupDestination,
    BackupFormat,
    OdooUpgradeJobSpec,
    SecretRef,
)
from odoo_operator.backups.keys import pre_upgrade_key
from odoo_operator.controllers.instance import jobs as instance_jobs
from odoo_operator.controllers.instance.snapshot import JobOutcome
from odoo_operator.controllers.instance.status import now
from odoo_operator.controllers.jobs import naming
from odoo_operator.controllers.jobs import status as job_status
from odoo_operator.controllers.jobs.batch import owner_reference
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.resources import (
    ODOO_BACKUP_JOBS,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.events import EventType
from odoo_operator.runtime.objects import KubeObject, ObjectKey, controller_owner, thaw
from odoo_operator.runtime.resources import Resource

BACKUP_ROLE = "pre-upgrade"  # in the backup's name: <upgrade>-pre-upgrade-<hash>
ROLLBACK_ROLE = "rollback"  # in the restore's name: <upgrade>-rollback-<hash>
FORMAT = BackupFormat.ZIP  # the database and the filestore: what a rollback must bring back
NO_DESTINATION = (
    "spec.backupFirst: true, but there is nowhere to back up to: set "
    "spec.backupDestination, or create an OdooBackupSchedule for the instance"
)


class UpgradeFailed(Exception):
    """The upgrade cannot go on; the message says why (it becomes its status.message),
    `conditions` go with it."""

    def __init__(self, message: str, *conditions: dict[str, Any]) -> None:
        super().__init__(message)
        self.conditions = conditions


@dataclass(frozen=True)
class Destination:
    where: BackupDestination
    origin: str  # "spec.backupDestination" or "OdooBackupSchedule <name>", for messages
    namespace: str  # the credentials Secret's default namespace


def destination(
    spec: OdooUpgradeJobSpec, namespace: str, schedules: Iterable[KubeObject]
) -> Destination | None:
    """Where a backup before this upgrade goes: its own `backupDestination`, else that of
    the oldest valid schedule in `schedules` (those targeting the instance), else None."""
    if spec.backup_destination is not None:
        return Destination(spec.backup_destination, "spec.backupDestination", namespace)
    for schedule in instance_jobs.oldest_first(schedules):
        try:
            where = BackupDestination.model_validate(thaw(schedule["spec"]["destination"]))
        except (KeyError, TypeError, ValidationError):
            continue
        metadata = schedule["metadata"]
        return Destination(where, f"OdooBackupSchedule {metadata['name']}", metadata["namespace"])
    return None


def backs_up_first(spec: OdooUpgradeJobSpec, found: Destination | None) -> bool:
    """`spec.backupFirst`, defaulting to whether there is a destination."""
    return spec.backup_first if spec.backup_first is not None else found is not None


def backup_body(upgrade: KubeObject, found: Destination, when: dt.datetime) -> dict[str, Any]:
    """The OdooBackupJob taken before `upgrade`, owned by it."""
    metadata = upgrade["metadata"]
    instance = instance_jobs.instance_of(upgrade)
    where = found.where
    key = pre_upgrade_key(
        where.prefix, instance.namespace, instance.name, when,
        upgrade=metadata["name"], fmt=FORMAT.value,
    )  # fmt: skip
    target: dict[str, Any] = {
        "bucket": where.bucket,
        "objectKey": key,
        "endpoint": where.endpoint,
        "insecure": where.insecure,
    }
    if where.region:
        target["region"] = where.region
    ref = where.s3_credentials_secret_ref
    if ref is not None:
        secret = SecretRef(name=ref.name, namespace=ref.namespace or found.namespace)
        target["s3CredentialsSecretRef"] = secret.to_dict()
    spec = {
        "odooInstanceRef": {"name": instance.name},
        "destination": target,
        "format": FORMAT.value,
        "withFilestore": True,
    }
    return _owned(ODOO_BACKUP_JOBS, _name(BACKUP_ROLE, upgrade), upgrade, spec)


def rollback_body(upgrade: KubeObject, backup: KubeObject) -> dict[str, Any]:
    """The OdooRestoreJob that puts the pre-upgrade backup back, owned by `upgrade`."""
    spec = {
        "odooInstanceRef": {"name": instance_jobs.instance_of(upgrade).name},
        "source": {"type": "s3", "s3": thaw(backup["spec"]["destination"])},
        "format": FORMAT.value,
        "neutralize": False,
    }
    return _owned(ODOO_RESTORE_JOBS, _name(ROLLBACK_ROLE, upgrade), upgrade, spec)


def _name(role: str, upgrade: KubeObject) -> str:
    metadata = upgrade["metadata"]
    return naming.batch_job_name(role, metadata["name"], metadata["uid"])


def _owned(
    resource: Resource, name: str, upgrade: KubeObject, spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": resource.kind,
        "metadata": {
            "name": name,
            "namespace": upgrade["metadata"]["namespace"],
            "ownerReferences": [owner_reference(upgrade)],
        },
        "spec": spec,
    }


def backup_location(backup: KubeObject) -> str:
    where = backup["spec"]["destination"]
    return f"s3://{where['bucket']}/{where['objectKey']}"


def restore_location(restore: KubeObject) -> str:
    where = ((restore.get("spec") or {}).get("source") or {}).get("s3") or {}
    return f"s3://{where.get('bucket')}/{where.get('objectKey')}"


class BackupFirst:
    """The upgrade controller's steps for `backupFirst` (see the module docstring)."""

    def __init__(self, ctx: JobContext, schedules: Lister) -> None:
        self.ctx = ctx
        self.schedules = schedules

    def _destination(self, upgrade: KubeObject, spec: OdooUpgradeJobSpec) -> Destination | None:
        instance = instance_jobs.instance_of(upgrade)
        targeting = [
            schedule
            for schedule in self.schedules.list(instance.namespace)
            if instance_jobs.instance_of(schedule) == instance
        ]
        return destination(spec, instance.namespace, targeting)

    def admission_conditions(
        self, upgrade: KubeObject, spec: OdooUpgradeJobSpec
    ) -> tuple[dict[str, Any], ...]:
        """`BackedUp=Unknown` when a backup comes first, () when not; `UpgradeFailed`
        when one is asked for and there is no destination."""
        found = self._destination(upgrade, spec)
        if not backs_up_first(spec, found):
            return ()
        if found is None:
            raise UpgradeFailed(NO_DESTINATION)
        message = f"a backup to {found.origin} comes first"
        return (self._condition(upgrade, job_status.BACKED_UP, "Unknown", "Pending", message),)

    @staticmethod
    def awaits_backup(upgrade: KubeObject) -> bool:
        found = job_status.find_condition(upgrade, job_status.BACKED_UP)
        return found is not None and found.get("status") == "Unknown"

    def _condition(
        self, upgrade: KubeObject, type_: str, status: str, reason: str, message: str
    ) -> dict[str, Any]:
        return job_status.typed_condition(
            type_, status, reason, message, previous=upgrade.get("status"), moment=now()
        )

    async def back_up(self, upgrade: KubeObject, spec: OdooUpgradeJobSpec) -> None:
        """Step 2 and 3: make the backup when it is the upgrade's turn, follow it."""
        name = _name(BACKUP_ROLE, upgrade)
        backup = self._owned(self.ctx.jobs.by_kind["backup"], upgrade, name)
        if backup is None:
            if not self._its_turn(upgrade):
                return
            found = self._destination(upgrade, spec)
            if found is None:
                raise UpgradeFailed(NO_DESTINATION)
            body = backup_body(upgrade, found, dt.datetime.now(dt.UTC))
            backup = await self._create_or_get(ODOO_BACKUP_JOBS, "backup", upgrade, body)
            where = backup_location(backup)
            await self._write(upgrade, f"backing up to {where} before upgrading")
            self._event(upgrade, "Normal", "BackupBeforeUpgrade", f"backing up to {where}")
            return
        phase = job_status.phase_of(backup)
        if phase == JobPhase.COMPLETED.value:
            message = f"backed up to {backup_location(backup)} (OdooBackupJob {name})"
            condition = self._condition(upgrade, job_status.BACKED_UP, "True", "Completed", message)
            await self._write(upgrade, f"{message}; the upgrade runs next", condition)
            self._event(upgrade, "Normal", "BackedUpBeforeUpgrade", message)
        elif phase == JobPhase.FAILED.value:
            why = (backup.get("status") or {}).get("message") or "no reason given"
            message = f"backup before upgrade failed: {why}"
            self._event(upgrade, "Warning", "BackupBeforeUpgradeFailed",
                        f"{message}; the upgrade did not run")  # fmt: skip
            condition = self._condition(upgrade, job_status.BACKED_UP, "False", "Failed", why)
            raise UpgradeFailed(message, condition)

    def _its_turn(self, upgrade: KubeObject) -> bool:
        due = instance_jobs.due_at(upgrade)
        if due is not None and due > dt.datetime.now(dt.UTC):
            return False
        waiting = instance_jobs.pending(
            self.ctx.jobs.by_kind["upgrade"], instance_jobs.instance_of(upgrade)
        )
        return bool(waiting) and waiting[0]["metadata"]["name"] == upgrade["metadata"]["name"]

    async def roll_back(self, upgrade: KubeObject) -> None:
        """Steps 4 and 5, for an upgrade that backed up first (else nothing)."""
        backed_up = job_status.find_condition(upgrade, job_status.BACKED_UP)
        if backed_up is None or backed_up.get("status") != "True":
            return
        if job_status.find_condition(upgrade, job_status.ROLLED_BACK) is not None:
            return
        name = _name(ROLLBACK_ROLE, upgrade)
        restore = self._owned(self.ctx.jobs.by_kind["restore"], upgrade, name)
        if restore is None:
            await self._start_rollback(upgrade)
        elif job_status.is_terminal(restore):
            await self._rolled_back(upgrade, restore)

    async def _start_rollback(self, upgrade: KubeObject) -> None:
        if job_status.is_terminal(upgrade):
            return  # finished without a failed batch Job of its own to undo
        if instance_jobs.outcome(upgrade, self.ctx.jobs.batch_job) is not JobOutcome.FAILED:
            return
        backup = self._owned(self.ctx.jobs.by_kind["backup"], upgrade, _name(BACKUP_ROLE, upgrade))
        if backup is None:
            message = "the pre-upgrade OdooBackupJob is gone: nothing to roll back to"
            condition = self._condition(
                upgrade, job_status.ROLLED_BACK, "False", "BackupGone", message
            )
            await self._write(upgrade, message, condition)
            self._event(upgrade, "Warning", "RollbackFailed", message)
            return
        body = rollback_body(upgrade, backup)
        await self._create_or_get(ODOO_RESTORE_JOBS, "restore", upgrade, body)
        self._event(upgrade, "Warning", "RollingBack",
                    f"the upgrade failed: restoring {backup_location(backup)}")  # fmt: skip

    async def _rolled_back(self, upgrade: KubeObject, restore: KubeObject) -> None:
        where = restore_location(restore)
        before = (upgrade.get("status") or {}).get("message") or "the upgrade failed"
        if job_status.phase_of(restore) == JobPhase.COMPLETED.value:
            what = f"rolled back: {where} restored (OdooRestoreJob {restore['metadata']['name']})"
            status, reason = "True", "Restored"
            event: tuple[EventType, str] = ("Normal", "RolledBack")
        else:
            why = (restore.get("status") or {}).get("message") or "no reason given"
            what = f"rollback failed: {why}"
            status, reason, event = "False", "RestoreFailed", ("Warning", "RollbackFailed")
        condition = self._condition(upgrade, job_status.ROLLED_BACK, status, reason, what)
        await self._write(upgrade, f"{before}; {what}", condition)
        self._event(upgrade, event[0], event[1], what)

    @staticmethod
    def _owned(jobs: Lister, upgrade: KubeObject, name: str) -> KubeObject | None:
        found = jobs.get(ObjectKey(upgrade["metadata"]["namespace"], name))
        if found is None:
            return None
        owner = controller_owner(found)
        if owner is None or owner.get("uid") != upgrade["metadata"]["uid"]:
            raise UpgradeFailed(f"{found['kind']} {name} exists and is not this upgrade's")
        return found

    async def _create_or_get(
        self, resource: Resource, kind: str, upgrade: KubeObject, body: dict[str, Any]
    ) -> KubeObject:
        """Create `body`; when its name is taken, the cached object (it must be ours)."""
        try:
            created: KubeObject = await self.ctx.client.create(resource, body)
            return created
        except ApiError as error:
            if not error.conflict:
                raise
            found = self._owned(self.ctx.jobs.by_kind[kind], upgrade, body["metadata"]["name"])
            if found is None:  # made before a restart, not in the cache yet: try again later
                raise
            return found

    async def _write(self, upgrade: KubeObject, message: str, *conditions: dict[str, Any]) -> None:
        status: dict[str, Any] = {"message": message}
        if conditions:
            status["conditions"] = job_status.merged_conditions(upgrade, *conditions)
        await job_status.write(self.ctx.client, ODOO_UPGRADE_JOBS, upgrade, status)

    def _event(self, upgrade: KubeObject, type_: EventType, reason: str, note: str) -> None:
        instance = self.ctx.instances.get(instance_jobs.instance_of(upgrade))
        if instance is not None:
            self.ctx.recorder.record(
                instance, type_, reason, f"OdooUpgradeJob {upgrade['metadata']['name']}: {note}"
            )

"""The job controller of one kind: admit a job resource, start its batch Job, clean up.

Who decides what (the seam with the OdooInstance controller, `instance.jobs`):
- this controller **admits** a job resource (status Pending) once it has checked that it
  can apply, or marks it Failed at once with a message saying why (invalid spec, missing
  instance, instance in another namespace, an init for an initialised database, an
  upgrade or backup of a database never initialised, a restore source without its block,
  missing S3 credentials, no `--operator-image`);
- the instance's state table sees admitted resources only, and moves the instance into
  the kind's phase (Initializing, Upgrading, BackingUp, Restoring) when one may run;
- this controller then **starts** the batch Job of the oldest admitted resource of its
  kind for that instance (creationTimestamp, then name) and records `jobName`,
  `startTime` and phase Running;
- the instance reconciler reads the batch Job's outcome, **finishes** the resource
  (Completed/Failed, its webhook) and leaves the phase by its table row;
- this controller deletes terminal resources beyond `--job-history-limit` per instance
  and kind, oldest first, and the Secrets it copied for a Job that has ended;
- for upgrades, `backup_first` adds its steps: at admission, before the start (the
  backup), after a failed batch Job (the rollback restore) and after the end.

Guarantees:
- no batch Job is created twice: its name is derived from the resource
  (`naming.batch_job_name`), creation is create-or-get, and a Job found under that name
  is adopted only when the resource is its controller owner; so an operator killed
  between creating the Job and recording it adopts the Job when it comes back;
- one at a time per instance and kind: a Job is created only for the oldest admitted
  resource, and only while the instance is in the kind's phase (which the table enters
  for one resource at a time);
- a resource whose instance is deleted (or gone) while it runs has its batch Job (and
  its pod) deleted, and is marked Failed.
- every status write carries the resourceVersion of the view it was decided from
  (`status.write`): a view the cache had not brought up to date is refused (409) and the
  key reconciled again, so a second reconcile woken before the first one's write is
  cached never writes Running (or Pending) over the outcome the instance recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import structlog
from pydantic import ValidationError

from odoo_operator.api.base import JobPhase
from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance import jobs as instance_jobs
from odoo_operator.controllers.instance.clusters import ClustersError, pick
from odoo_operator.controllers.instance.status import now
from odoo_operator.controllers.jobs import credentials, history, naming
from odoo_operator.controllers.jobs import status as job_status
from odoo_operator.controllers.jobs.backup_first import BackupFirst, UpgradeFailed
from odoo_operator.controllers.jobs.batch import CannotRun, Target
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.jobs.kinds import JobKind
from odoo_operator.controllers.resources import ODOO_INSTANCES
from odoo_operator.runner import pausepoints
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import KubeObject, ObjectKey, controller_owner, thaw
from odoo_operator.runtime.reconcile import DONE, Result
from odoo_operator.runtime.resources import BATCH_JOBS

_log = structlog.get_logger(__name__)


def _until(moment: dt.datetime | None) -> Result:
    """Requeue at `moment` when it is still to come (an upgrade's scheduledTime)."""
    if moment is None:
        return DONE
    wait = (moment - dt.datetime.now(dt.UTC)).total_seconds()
    return Result(requeue_after=wait) if wait > 0 else DONE


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"invalid resource: {where}: {first['msg']}"


class JobReconciler:
    def __init__(
        self, kind: JobKind, ctx: JobContext, backup_first: BackupFirst | None = None
    ) -> None:
        self.kind = kind
        self.ctx = ctx
        self.backup_first = backup_first  # upgrades only

    async def reconcile(self, key: ObjectKey) -> Result:
        job = self.ctx.jobs.by_kind[self.kind.word].get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return DONE
        if job_status.is_terminal(job):
            await self._ended(job)
            return DONE
        try:
            return await self._progress(job)
        except UpgradeFailed as failed:
            await self._fail(job, str(failed), failed.conditions)
        return DONE

    async def _progress(self, job: KubeObject) -> Result:
        checked = await self._checked(job)
        if checked is None:
            return DONE  # failed now
        spec, instance, instance_key = checked
        if (job.get("status") or {}).get("jobName"):
            if self.backup_first is not None:  # running: the instance reconciler reads
                await self.backup_first.roll_back(job)  # its outcome; a failure rolls back
            return DONE
        db_initialized = bool((instance.get("status") or {}).get("dbInitialized"))
        why = self.kind.why_not(spec, db_initialized)
        if why is not None:
            await self._fail(job, why)
        elif job_status.phase_of(job) is None:
            conditions: tuple[dict[str, Any], ...] = ()
            if self.backup_first is not None:
                conditions = self.backup_first.admission_conditions(job, spec)
            await self._admit(job, conditions)
        elif self.backup_first is not None and self.backup_first.awaits_backup(job):
            await self.backup_first.back_up(job, spec)
            return _until(instance_jobs.due_at(job))
        elif self._may_start(job, instance, instance_key):
            await self._start(job, spec, instance)
        return DONE

    async def _checked(self, job: KubeObject) -> tuple[Any, KubeObject, ObjectKey] | None:
        """(spec, instance, its key); None when the resource was marked Failed instead."""
        try:
            model = self.kind.model.model_validate(thaw(job))
        except ValidationError as error:
            await self._fail(job, _validation_message(error))
            return None
        instance_key = instance_jobs.instance_of(job)
        if instance_key.namespace != job["metadata"]["namespace"]:
            await self._fail(
                job,
                "spec.odooInstanceRef.namespace: must be the job's own namespace "
                "(its batch Job mounts the instance's volumes)",
            )
            return None
        instance = await self._instance(instance_key)
        if instance is None or instance["metadata"].get("deletionTimestamp"):
            await self._instance_gone(job, instance_key, deleted=instance is not None)
            return None
        return model.spec, instance, instance_key

    async def _instance(self, key: ObjectKey) -> KubeObject | None:
        """The instance from the cache; when absent there, as the API server has it."""
        found = self.ctx.instances.get(key)
        if found is not None:
            return found
        try:
            return await self.ctx.client.get(ODOO_INSTANCES, key.name, key.namespace)
        except ApiError as error:
            if error.not_found:
                return None
            raise

    def _may_start(self, job: KubeObject, instance: KubeObject, instance_key: ObjectKey) -> bool:
        phase = (instance.get("status") or {}).get("phase")
        if phase != self.kind.phase.value:
            return False
        waiting = instance_jobs.pending(self.ctx.jobs.by_kind[self.kind.word], instance_key)
        return bool(waiting) and waiting[0]["metadata"]["name"] == job["metadata"]["name"]

    async def _admit(self, job: KubeObject, conditions: tuple[dict[str, Any], ...] = ()) -> None:
        due = instance_jobs.due_at(job)
        message = f"scheduled for {due.isoformat()}" if due else "waiting for its turn"
        status = job_status.fields(job, JobPhase.PENDING, message, conditions=conditions)
        await self._write(job, status)

    async def _start(self, job: KubeObject, spec: Any, instance_obj: KubeObject) -> None:
        metadata = job["metadata"]
        name = naming.batch_job_name(self.kind.word, metadata["name"], metadata["uid"])
        try:
            body = await self._batch_job(job, name, spec, instance_obj)
        except CannotRun as error:
            await self._fail(job, str(error))
            return
        created = await self._create_or_adopt(job, body)
        if created is None:
            return
        self.ctx.jobs.writes.remember(BATCH_JOBS, created)
        await pausepoints.pause(pausepoints.BATCH_JOB_CREATED)
        message = f"batch Job {name} started; logs: kubectl logs job/{name}"
        status = job_status.fields(job, JobPhase.RUNNING, message, jobName=name, startTime=now())
        await self._write(job, status)
        _log.info("batch job created", job=metadata["name"], batch_job=name)

    async def _batch_job(
        self, job: KubeObject, name: str, spec: Any, instance_obj: KubeObject
    ) -> dict[str, Any]:
        ctx, kind = self.ctx, self.kind
        try:
            instance = OdooInstance.model_validate(thaw(instance_obj))
        except ValidationError as error:
            raise CannotRun(f"the OdooInstance is invalid: {error.errors()[0]['msg']}") from None
        target = Target(
            job=job,
            job_name=name,
            instance=instance,
            database=instance.spec.database.name or "",
            operator_image=ctx.settings.operator_image,
        )
        if kind.runs_runner:
            try:
                cluster = pick(
                    ctx.clusters(),
                    instance.spec.database.cluster,
                    ctx.settings.postgres_clusters_secret,
                )
            except ClustersError as error:
                raise CannotRun(str(error)) from None
            target = dataclasses.replace(target, db_host=cluster.host, db_port=cluster.port)
            target = dataclasses.replace(
                target,
                s3_secret=await credentials.s3_secret(ctx, kind, spec, target),
                source_secret=await credentials.source_secret(ctx, kind, spec, target),
            )
        return kind.build(spec, target)

    async def _create_or_adopt(self, job: KubeObject, body: dict[str, Any]) -> KubeObject | None:
        """The created Job, or the one of that name it owns already; None if it failed."""
        try:
            created: KubeObject = await self.ctx.client.create(BATCH_JOBS, body)
            return created
        except ApiError as error:
            if not error.conflict:
                raise
        name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
        existing = await self.ctx.client.get(BATCH_JOBS, name, namespace)
        owner = controller_owner(existing)
        if owner is None or owner.get("uid") != job["metadata"]["uid"]:
            await self._fail(job, f"a batch Job named {name} exists and is not this resource's")
            return None
        return existing

    async def _instance_gone(self, job: KubeObject, key: ObjectKey, *, deleted: bool) -> None:
        running = (job.get("status") or {}).get("jobName")
        if running:
            try:
                await self.ctx.client.request(
                    "DELETE",
                    BATCH_JOBS.path(job["metadata"]["namespace"], running),
                    query={"propagationPolicy": "Background"},
                )
            except ApiError as error:
                if not error.not_found:
                    raise
        what = "is being deleted" if deleted else "not found"
        await self._fail(job, f"OdooInstance {key} {what}")

    async def _fail(
        self, job: KubeObject, message: str, conditions: tuple[dict[str, Any], ...] = ()
    ) -> None:
        status = job_status.fields(job, JobPhase.FAILED, message, conditions=conditions)
        await self._write(job, status)
        job_status.ended(self.ctx.notifier, self.kind.resource, job, status)
        _log.info("job resource failed", job=job["metadata"]["name"], message=message)

    async def _write(self, job: KubeObject, status: dict[str, Any]) -> None:
        await job_status.write(self.ctx.client, self.kind.resource, job, status)

    async def _ended(self, job: KubeObject) -> None:
        metadata = job["metadata"]
        batch_job = (job.get("status") or {}).get("jobName")
        if batch_job:
            await credentials.remove(self.ctx, metadata["namespace"], batch_job)
        if self.backup_first is not None:
            await self.backup_first.roll_back(job)
        await history.prune(
            self.ctx.client,
            self.kind.resource,
            self.ctx.jobs.by_kind[self.kind.word],
            instance_jobs.instance_of(job),
            self.ctx.settings.job_history_limit,
        )

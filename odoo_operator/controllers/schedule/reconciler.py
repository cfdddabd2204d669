"""The OdooBackupSchedule reconciler: one pass makes the due backup, prunes and verifies
after the newest successful one, and writes the status.

Order of one reconcile (each step is idempotent, so a crash anywhere repeats it safely):
1. the schedule is checked (model, cron expression, time zone, instance in the
   schedule's namespace): an invalid one gets `Ready=False, Invalid` and nothing runs;
2. the due tick (`ticks.plan`): Replace deletes the unfinished backups, then the backup
   of the tick is created (`backups`), or found when it exists, and `lastScheduleTime`
   is the tick; a tick Forbid skips is recorded in `lastSkippedTime`. It comes first,
   so that nothing after it (S3 down) can stop the schedule's backups;
3. the newest finished backup it owns: when it Completed, it becomes
   `lastSuccessfulBackup`, retention runs once for it (`retention`, recorded in
   `prunedAfter`; a failure is in `Ready`'s message and tried again at the next
   reconcile) and, with `verify`, its verification Job is made or its verdict recorded
   (`verification`); a Failed one prunes and verifies nothing;
4. the status is applied (nothing is sent when it did not change), and the reconcile
   asks to be woken at the next tick (`Result(requeue_after=...)`); a suspended or
   invalid schedule waits for its next change instead.

The clock is the context's (`ScheduleContext.clock`), so tests move time without waiting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from pydantic import ValidationError

from odoo_operator.api.backup_schedule import OdooBackupSchedule, OdooBackupScheduleSpec
from odoo_operator.backups.cron import cron_problem, zone_problem
from odoo_operator.backups.keys import instance_prefix, parse_key
from odoo_operator.controllers.jobs.batch import CannotRun
from odoo_operator.controllers.resources import ODOO_BACKUP_JOBS, ODOO_BACKUP_SCHEDULES
from odoo_operator.controllers.schedule import backups, retention, ticks, verification
from odoo_operator.controllers.schedule import status as schedule_status
from odoo_operator.controllers.schedule.context import ScheduleContext
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.logs import describe_error
from odoo_operator.runtime.objects import KubeObject, ObjectKey, parse_time, thaw
from odoo_operator.runtime.reconcile import DONE, Result

_log = structlog.get_logger(__name__)


def _problem(schedule: KubeObject) -> tuple[OdooBackupScheduleSpec | None, str | None]:
    """(spec, None) when the schedule can run, else (None, what is wrong)."""
    try:
        spec = OdooBackupSchedule.model_validate(thaw(schedule)).spec
    except ValidationError as error:
        first = error.errors()[0]
        return None, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    why = cron_problem(spec.schedule)
    if why is not None:
        return None, f"spec.schedule: {why}"
    if spec.time_zone is not None and (why := zone_problem(spec.time_zone)) is not None:
        return None, f"spec.timeZone: {why}"
    namespace = spec.odoo_instance_ref.namespace
    if namespace and namespace != schedule["metadata"]["namespace"]:
        return None, (
            "spec.odooInstanceRef.namespace: must be the schedule's own namespace "
            "(its backup and verification Jobs mount the instance's volumes)"
        )
    return spec, None


class ScheduleReconciler:
    def __init__(self, ctx: ScheduleContext) -> None:
        self.ctx = ctx

    async def reconcile(self, key: ObjectKey) -> Result:
        schedule = self.ctx.schedules.get(key)
        if schedule is None or schedule["metadata"].get("deletionTimestamp"):
            return DONE  # its OdooBackupJobs and Jobs are owned: the collector removes them
        now = self.ctx.clock()
        previous: dict[str, Any] = thaw(schedule.get("status") or {})
        status = dict(previous)
        spec, invalid = _problem(schedule)
        if spec is None:
            status["conditions"] = [
                schedule_status.ready(False, "Invalid", invalid or "", previous, now)
            ]
            await self._write(schedule, status)
            return DONE
        instance = backups.instance_key(schedule, spec)
        owned = backups.owned(schedule, self.ctx.backup_jobs, instance)
        plan = ticks.plan(
            spec.schedule,
            spec.time_zone,
            spec.concurrency_policy,
            suspend=spec.suspend,
            since=self._since(schedule, owned),
            now=now,
            unfinished=backups.unfinished(owned),
        )
        if (made := backups.last_tick(owned)) is not None:
            status["lastScheduleTime"] = max(status.get("lastScheduleTime") or "",
                                             schedule_status.stamp(made))  # fmt: skip
        if plan.tick is not None:
            await self._make(schedule, spec, plan)
            status["lastScheduleTime"] = schedule_status.stamp(plan.tick)
        elif plan.skipped is not None:
            status["lastSkippedTime"] = schedule_status.stamp(plan.skipped)
            _log.info("scheduled backup skipped: one still runs (concurrencyPolicy Forbid)",
                      schedule=str(key), tick=schedule_status.stamp(plan.skipped))  # fmt: skip
        problems = await self._after_newest(schedule, spec, instance, owned, status)
        status["conditions"] = [self._ready(spec, plan, problems, previous, now)]
        await self._write(schedule, status)
        return DONE if spec.suspend else Result(requeue_after=plan.requeue_after)

    @staticmethod
    def _since(schedule: KubeObject, owned: list[KubeObject]) -> dt.datetime:
        """The last tick made or skipped (the status's, or a newer backup's), else the
        schedule's creation."""
        status = schedule.get("status") or {}
        found = [
            parse_time(stamp)
            for stamp in (status.get("lastScheduleTime"), status.get("lastSkippedTime"))
            if stamp
        ]
        if (made := backups.last_tick(owned)) is not None:
            found.append(made)
        return max(found, default=parse_time(schedule["metadata"]["creationTimestamp"]))

    @staticmethod
    def _ready(
        spec: OdooBackupScheduleSpec,
        plan: ticks.Plan,
        problems: list[str],
        previous: dict[str, Any],
        now: dt.datetime,
    ) -> dict[str, Any]:
        if spec.suspend:
            return schedule_status.ready(False, "Suspended", "spec.suspend is true", previous, now)
        upcoming = now + dt.timedelta(seconds=plan.requeue_after)
        message = f"next backup at {schedule_status.stamp(upcoming)}"
        if problems:
            return schedule_status.ready(
                True, "Degraded", "; ".join([*problems, message]), previous, now
            )
        return schedule_status.ready(True, "Scheduled", message, previous, now)

    async def _after_newest(
        self,
        schedule: KubeObject,
        spec: OdooBackupScheduleSpec,
        instance: ObjectKey,
        owned: list[KubeObject],
        status: dict[str, Any],
    ) -> list[str]:
        """Step 2 of the module docstring; returns what could not be done, for `Ready`."""
        newest = backups.newest_finished(owned)
        if newest is None or not backups.succeeded(newest):
            return []  # a Failed backup prunes and verifies nothing
        key = backups.key_of_backup(newest)
        under = instance_prefix(spec.destination.prefix, instance.namespace, instance.name)
        parsed = parse_key(key, under)
        taken = parsed.time if parsed else parse_time(newest["metadata"]["creationTimestamp"])
        status["lastSuccessfulBackup"] = {"key": key, "time": schedule_status.stamp(taken)}
        problems: list[str] = []
        if status.get("prunedAfter") != key:
            try:
                outcome = await retention.after_backup(
                    self.ctx.jobs, self.ctx.retention_metrics, spec, instance, key
                )
            except CannotRun as error:  # tried again at the next reconcile
                problems.append(f"retention: {error}")
            except Exception as error:  # S3 down must not stop the schedule
                reason = describe_error(error)
                _log.warning("retention failed", schedule=schedule["metadata"]["name"],
                             error=reason)  # fmt: skip
                problems.append(f"retention failed, tried again at the next reconcile: {reason}")
            else:
                status["prunedAfter"] = key
                status["backups"] = outcome.kept
                if outcome.problem:
                    problems.append(f"retention: {outcome.problem}")
        if spec.verify:
            problem = await self._verify(schedule, spec, instance, newest, key=key, status=status)
            if problem:
                problems.append(problem)
        await self._sync_instance_condition(instance, status)
        return problems

    async def _verify(
        self,
        schedule: KubeObject,
        spec: OdooBackupScheduleSpec,
        instance: ObjectKey,
        backup: KubeObject,
        *,
        key: str,
        status: dict[str, Any],
    ) -> str | None:
        """Make the verification Job of `key`, or record its verdict."""
        if (status.get("lastVerified") or {}).get("key") == key:
            return None
        ctx = self.ctx.jobs
        name = verification.job_name(backup)
        namespace = schedule["metadata"]["namespace"]
        found = ctx.jobs.batch_job(ObjectKey(namespace, name))
        if found is None:
            instance_obj = ctx.instances.get(instance)
            if instance_obj is None:
                return f"verification: OdooInstance {instance} not found"
            try:
                await verification.start(ctx, schedule, spec, instance_obj, name=name, key=key)
            except CannotRun as error:
                self._record(schedule, status, key, verification.Verdict(False, str(error)))
                return None
            _log.info("verification job created", schedule=schedule["metadata"]["name"],
                      batch_job=name, key=key)  # fmt: skip
            return None
        verdict = verification.verdict(found, name, key)
        if verdict is not None:
            self._record(schedule, status, key, verdict)
            await verification.finished(ctx, namespace, name)
        return None

    def _record(
        self,
        schedule: KubeObject,
        status: dict[str, Any],
        key: str,
        verdict: verification.Verdict,
    ) -> None:
        moment = schedule_status.stamp(self.ctx.clock())
        result = "Passed" if verdict.passed else "Failed"
        status["lastVerified"] = {
            "key": key, "time": moment, "result": result, "message": verdict.message,
        }  # fmt: skip
        if verdict.passed:
            status["lastPassedVerification"] = moment
            self.ctx.recorder.record(schedule, "Normal", "BackupVerified", verdict.message)
        else:
            self.ctx.recorder.record(
                schedule, "Warning", "BackupVerificationFailed", verdict.message
            )
        _log.info("backup verification", schedule=schedule["metadata"]["name"], key=key,
                  result=result, message=verdict.message)  # fmt: skip

    async def _sync_instance_condition(self, instance: ObjectKey, status: dict[str, Any]) -> None:
        """The instance's `BackupVerified` says what `status.lastVerified` says."""
        last = status.get("lastVerified")
        if not last:
            return
        cached = self.ctx.jobs.instances.get(instance)
        if cached is None:
            return
        passed = last.get("result") == "Passed"
        wanted = verification.instance_condition(passed, str(last.get("message") or ""), cached)
        for have in (cached.get("status") or {}).get("conditions") or ():
            if have.get("type") == verification.CONDITION and all(
                have.get(field) == wanted[field] for field in ("status", "reason", "message")
            ):
                return
        await verification.mark_instance(self.ctx.jobs, cached, wanted)

    async def _make(
        self, schedule: KubeObject, spec: OdooBackupScheduleSpec, plan: ticks.Plan
    ) -> None:
        """Create (or find) the backup of `plan.tick`; a foreign one of that name is left
        alone and the tick skipped, with a Warning."""
        assert plan.tick is not None
        client = self.ctx.jobs.client
        namespace = schedule["metadata"]["namespace"]
        for name in plan.replace:
            try:
                await client.request(
                    "DELETE",
                    ODOO_BACKUP_JOBS.path(namespace, name),
                    query={"propagationPolicy": "Background"},
                )
            except ApiError as error:
                if not error.not_found:
                    raise
            _log.info("running backup replaced (concurrencyPolicy Replace)", job=name)
        body = backups.body(schedule, spec, plan.tick)
        name = body["metadata"]["name"]
        try:
            await client.create(ODOO_BACKUP_JOBS, body)
        except ApiError as error:
            if not error.conflict:
                raise
            existing = await client.get(ODOO_BACKUP_JOBS, name, namespace)
            if not backups.is_ours(schedule, existing):
                self.ctx.recorder.record(schedule, "Warning", "BackupNameTaken",
                                         f"an OdooBackupJob named {name} exists and is not "
                                         "this schedule's: that tick is skipped")  # fmt: skip
            return
        _log.info("scheduled backup created", schedule=schedule["metadata"]["name"], job=name,
                  key=body["spec"]["destination"]["objectKey"])  # fmt: skip

    async def _write(self, schedule: KubeObject, status: dict[str, Any]) -> None:
        await self.ctx.applier.apply_status(
            ODOO_BACKUP_SCHEDULES, schedule_status.body(schedule, status), schedule
        )

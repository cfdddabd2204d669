"""Register the OdooBackupSchedule controller, after the job controllers, whose context
(client, caches, credentials handling, clusters) it shares.

What it watches, and what an event there reconciles:
- OdooBackupSchedules (`for_`): that schedule;
- OdooBackupJobs (`owns`): the schedule that made it (a finished backup is pruned after
  and verified; Forbid may let the next tick run);
- batch Jobs (`owns`; ours, by label): the schedule of a verification Job;
- OdooInstances (`watches`; schedules indexed by `spec.odooInstanceRef`): the schedules
  of that instance (its `BackupVerified` condition is kept in line with theirs).
Between events, each reconcile asks to be woken at its next tick.

Also registered: `odoo_operator_backup_last_verified_timestamp_seconds`, read from the
schedule cache at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable

from odoo_operator.backups.prune import RetentionMetrics
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.resources import (
    ODOO_BACKUP_JOBS,
    ODOO_BACKUP_SCHEDULES,
    ODOO_INSTANCES,
)
from odoo_operator.controllers.schedule.context import Clock, ScheduleContext, system_clock
from odoo_operator.controllers.schedule.reconciler import ScheduleReconciler
from odoo_operator.controllers.schedule.verification import LastVerified
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.manager import Manager
from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of
from odoo_operator.runtime.resources import BATCH_JOBS

INSTANCE_INDEX = "instance"


def _instance_index(schedule: KubeObject) -> list[str]:
    ref = (schedule.get("spec") or {}).get("odooInstanceRef") or {}
    namespace = ref.get("namespace") or schedule["metadata"]["namespace"]
    return [str(ObjectKey(namespace, ref["name"]))] if ref.get("name") else []


def _schedules_of(schedules: Lister) -> Callable[[KubeObject], list[ObjectKey]]:
    return lambda instance: [
        key_of(schedule) for schedule in schedules.by_index(INSTANCE_INDEX, str(key_of(instance)))
    ]


def setup(manager: Manager, jobs: JobContext, clock: Clock = system_clock) -> ScheduleReconciler:
    schedules = manager.informer(ODOO_BACKUP_SCHEDULES)
    backup_jobs = manager.informer(ODOO_BACKUP_JOBS)
    batch_jobs = manager.informer(BATCH_JOBS, label_selector=names.CHILD_SELECTOR)
    registry = manager.metrics.registry
    ctx = ScheduleContext(
        jobs=jobs,
        applier=manager.applier,
        recorder=manager.recorder,
        schedules=schedules.lister,
        backup_jobs=backup_jobs.lister,
        retention_metrics=RetentionMetrics(registry),
        clock=clock,
    )
    reconciler = ScheduleReconciler(ctx)
    controller = manager.controller(ODOO_BACKUP_SCHEDULES.kind.lower(), reconciler)
    schedules.add_index(INSTANCE_INDEX, _instance_index)
    instances = manager.informer(ODOO_INSTANCES)
    controller.for_(schedules).owns(backup_jobs).owns(batch_jobs)
    controller.watches(instances, _schedules_of(schedules.lister))
    registry.register(LastVerified(schedules.lister))
    return reconciler

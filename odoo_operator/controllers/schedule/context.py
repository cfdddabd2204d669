"""What the schedule controller works with: the job controllers' context (client, caches,
credentials), the status applier, the event recorder, its own caches and a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from odoo_operator.backups.prune import RetentionMetrics
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.runtime.apply import Applier
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.events import EventRecorder

Clock = Callable[[], dt.datetime]  # an aware datetime: now


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ScheduleContext:
    jobs: JobContext
    applier: Applier
    recorder: EventRecorder
    schedules: Lister
    backup_jobs: Lister  # OdooBackupJobs, indexed by instance
    retention_metrics: RetentionMetrics
    clock: Clock = system_clock

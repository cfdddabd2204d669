"""What the state table sees of an OdooInstance: one immutable snapshot per reconcile.

The reconciler builds it from the informer caches (instance, web Deployment, job
resources and their batch Jobs) before deciding anything, so every guard in the table
reads the same, consistent picture and guards stay pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from odoo_operator.controllers.instance.phase import Phase


class JobOutcome(StrEnum):
    """Where the batch Job behind a job resource stands."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # also: the batch Job vanished


@dataclass(frozen=True)
class JobSlot:
    """The job resource of one kind being processed now (the oldest non-terminal one)."""

    name: str
    outcome: JobOutcome = JobOutcome.NOT_STARTED
    namespace: str = ""  # the job resource's (it may differ from the instance's)
    due: bool = True  # an upgrade's scheduledTime has been reached (always True otherwise)
    awaits_backup: bool = False  # an upgrade whose backup before it has not succeeded (yet)
    rolls_back: bool = False  # an upgrade backed up first, its rollback not settled yet

    @property
    def finished(self) -> bool:
        return self.outcome in {JobOutcome.SUCCEEDED, JobOutcome.FAILED}


@dataclass(frozen=True)
class ReconcileSnapshot:
    phase: Phase
    replicas: int  # spec.replicas
    ready_replicas: int  # ready pods of the web Deployment
    db_initialized: bool
    blocker: str | None = None  # why the spec cannot be acted on now (e.g. unknown cluster)
    init: JobSlot | None = None
    restore: JobSlot | None = None
    upgrade: JobSlot | None = None
    backup: JobSlot | None = None
    backups_pending: int = 0  # non-terminal backup resources, the current one included

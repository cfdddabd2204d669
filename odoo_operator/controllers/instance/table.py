"""The OdooInstance state table (SPEC §3): data, evaluated in order, first match wins.

Each row is (from phases, to phase, guard, actions). A reconcile takes at most one
transition: the first row whose source set holds the current phase and whose guard
holds on the snapshot; the reconciler runs its actions, writes the new phase and
requeues at once. No row matching means the phase stays. `odoo-operator
state-machine` renders this table into docs/state-machine.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.snapshot import JobOutcome, JobSlot, ReconcileSnapshot


class Action(StrEnum):
    """Side effects of a transition; the reconciler maps each to code."""

    MARK_DB_INITIALIZED = "mark db initialized"
    FINISH_INIT = "finish init job"
    FINISH_RESTORE = "finish restore job"
    FINISH_UPGRADE = "finish upgrade job"
    FINISH_BACKUP = "finish backup job"
    RESTART_WEB = "restart web pods"


@dataclass(frozen=True)
class Guard:
    """A named predicate on the snapshot; the label is what the diagram shows."""

    label: str
    holds: Callable[[ReconcileSnapshot], bool]


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Phase]
    target: Phase
    guard: Guard
    actions: tuple[Action, ...] = ()


def _outcome(slot: JobSlot | None, *outcomes: JobOutcome) -> bool:
    return slot is not None and slot.outcome in outcomes


def _failed_or_gone(slot: JobSlot | None) -> bool:
    return slot is None or slot.outcome is JobOutcome.FAILED


def _done_or_gone(slot: JobSlot | None) -> bool:
    return slot is None or slot.finished


BLOCKED = Guard("spec cannot be acted on", lambda s: s.blocker is not None)
UNBLOCKED_INITIALIZED = Guard(
    "cause gone, db initialized", lambda s: s.blocker is None and s.db_initialized
)
UNBLOCKED_UNINITIALIZED = Guard(
    "cause gone, db not initialized", lambda s: s.blocker is None and not s.db_initialized
)
DB_INITIALIZED = Guard("db initialized", lambda s: s.db_initialized)
DB_UNINITIALIZED = Guard("db not initialized", lambda s: not s.db_initialized)
INIT_PRESENT = Guard("init present", lambda s: s.init is not None)
INIT_SUCCEEDED = Guard("init succeeded", lambda s: _outcome(s.init, JobOutcome.SUCCEEDED))
INIT_FAILED = Guard("init failed", lambda s: _outcome(s.init, JobOutcome.FAILED))
INIT_DELETED = Guard("init resource deleted", lambda s: s.init is None)
RESTORE_PRESENT = Guard("restore present", lambda s: s.restore is not None)
UPGRADE_DUE = Guard(
    "upgrade present, due, backed up if asked",
    lambda s: s.upgrade is not None and s.upgrade.due and not s.upgrade.awaits_backup,
)
BACKUP_PRESENT = Guard("backup present", lambda s: s.backup is not None)
STOPPED = Guard("R = 0", lambda s: s.replicas == 0)
STARTED = Guard("R > 0", lambda s: s.replicas > 0)
ALL_READY = Guard("ready >= R > 0", lambda s: s.ready_replicas >= s.replicas > 0)
SOME_READY = Guard("0 < ready < R", lambda s: 0 < s.ready_replicas < s.replicas)
NONE_READY = Guard("ready = 0 < R", lambda s: s.ready_replicas == 0 < s.replicas)
BACKUP_DONE_MORE_PENDING = Guard(
    "backup finished, more pending",
    lambda s: _done_or_gone(s.backup) and s.backups_pending > 1,
)
UPGRADE_SUCCEEDED = Guard("upgrade succeeded", lambda s: _outcome(s.upgrade, JobOutcome.SUCCEEDED))
UPGRADE_FAILED_ROLLBACK = Guard(
    "upgrade failed, its rollback restore present",
    lambda s: (
        _outcome(s.upgrade, JobOutcome.FAILED)
        and s.upgrade is not None
        and s.upgrade.rolls_back
        and s.restore is not None
    ),
)
UPGRADE_FAILED = Guard(
    "upgrade failed or gone, no rollback awaited",
    lambda s: _failed_or_gone(s.upgrade) and not (s.upgrade is not None and s.upgrade.rolls_back),
)
RESTORE_SUCCEEDED = Guard("restore succeeded", lambda s: _outcome(s.restore, JobOutcome.SUCCEEDED))
RESTORE_FAILED_INITIALIZED = Guard(
    "restore failed or gone, db initialized before",
    lambda s: _failed_or_gone(s.restore) and s.db_initialized,
)
RESTORE_FAILED_UNINITIALIZED = Guard(
    "restore failed or gone, db never initialized",
    lambda s: _failed_or_gone(s.restore) and not s.db_initialized,
)


def _backup_done(then: Guard) -> Guard:
    """The backup finished (or its resource vanished) and `then` holds."""
    return Guard(
        f"backup finished, {then.label}",
        lambda s: _done_or_gone(s.backup) and s.backups_pending <= 1 and then.holds(s),
    )


def _rows(
    sources: set[Phase], *targets: tuple[Phase, Guard, tuple[Action, ...]]
) -> list[Transition]:
    frozen = frozenset(sources)
    return [Transition(frozen, target, guard, actions) for target, guard, actions in targets]


P = Phase
SERVING = {P.STARTING, P.RUNNING, P.DEGRADED, P.STOPPED}
EVERY_PHASE_BUT_ERROR = set(Phase) - {P.ERROR}
NONE: tuple[Action, ...] = ()

TRANSITIONS: tuple[Transition, ...] = (
    *_rows(EVERY_PHASE_BUT_ERROR, (P.ERROR, BLOCKED, NONE)),
    *_rows(
        {P.ERROR},
        (P.STARTING, UNBLOCKED_INITIALIZED, NONE),
        (P.UNINITIALIZED, UNBLOCKED_UNINITIALIZED, NONE),
    ),
    *_rows(
        {P.PROVISIONING},
        (P.UNINITIALIZED, DB_UNINITIALIZED, NONE),
        (P.STARTING, DB_INITIALIZED, NONE),
    ),
    *_rows(
        {P.UNINITIALIZED},
        (P.INITIALIZING, INIT_PRESENT, NONE),
        (P.RESTORING, RESTORE_PRESENT, NONE),
    ),
    *_rows(
        {P.INITIALIZING},
        (P.STARTING, INIT_SUCCEEDED, (Action.FINISH_INIT, Action.MARK_DB_INITIALIZED)),
        (P.INIT_FAILED, INIT_FAILED, (Action.FINISH_INIT,)),
        (P.UNINITIALIZED, INIT_DELETED, NONE),
    ),
    *_rows(
        {P.INIT_FAILED},
        (P.INITIALIZING, INIT_PRESENT, NONE),
        (P.RESTORING, RESTORE_PRESENT, NONE),
    ),
    *_rows(
        SERVING,
        (P.RESTORING, RESTORE_PRESENT, NONE),
        (P.UPGRADING, UPGRADE_DUE, NONE),
        (P.BACKING_UP, BACKUP_PRESENT, NONE),
    ),
    *_rows(
        {P.STARTING},
        (P.STOPPED, STOPPED, NONE),
        (P.RUNNING, ALL_READY, NONE),
    ),
    *_rows(
        {P.RUNNING},
        (P.STOPPED, STOPPED, NONE),
        (P.DEGRADED, SOME_READY, NONE),
        (P.STARTING, NONE_READY, NONE),
    ),
    *_rows(
        {P.DEGRADED},
        (P.STOPPED, STOPPED, NONE),
        (P.RUNNING, ALL_READY, NONE),
        (P.STARTING, NONE_READY, NONE),
    ),
    *_rows({P.STOPPED}, (P.STARTING, STARTED, NONE)),
    *_rows(
        {P.BACKING_UP},
        (P.BACKING_UP, BACKUP_DONE_MORE_PENDING, (Action.FINISH_BACKUP,)),
        (P.STOPPED, _backup_done(STOPPED), (Action.FINISH_BACKUP,)),
        (P.RUNNING, _backup_done(ALL_READY), (Action.FINISH_BACKUP,)),
        (P.DEGRADED, _backup_done(SOME_READY), (Action.FINISH_BACKUP,)),
        (P.STARTING, _backup_done(NONE_READY), (Action.FINISH_BACKUP,)),
    ),
    *_rows(
        {P.UPGRADING},
        (P.STARTING, UPGRADE_SUCCEEDED, (Action.FINISH_UPGRADE, Action.RESTART_WEB)),
        (P.RESTORING, UPGRADE_FAILED_ROLLBACK, (Action.FINISH_UPGRADE,)),
        (P.STARTING, UPGRADE_FAILED, (Action.FINISH_UPGRADE,)),
    ),
    *_rows(
        {P.RESTORING},
        (P.STARTING, RESTORE_SUCCEEDED, (Action.FINISH_RESTORE, Action.MARK_DB_INITIALIZED)),
        (P.STARTING, RESTORE_FAILED_INITIALIZED, (Action.FINISH_RESTORE,)),
        (P.UNINITIALIZED, RESTORE_FAILED_UNINITIALIZED, (Action.FINISH_RESTORE,)),
    ),
)


def next_transition(snapshot: ReconcileSnapshot) -> Transition | None:
    """The first row that applies to the snapshot, or None when the phase stays."""
    for transition in TRANSITIONS:
        if snapshot.phase in transition.sources and transition.guard.holds(snapshot):
            return transition
    return None

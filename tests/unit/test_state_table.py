"""The OdooInstance state table against SPEC §3, row by row, plus properties."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo_operator.controllers.instance.phase import PROGRESSING, Phase
from odoo_operator.controllers.instance.snapshot import JobOutcome, JobSlot, ReconcileSnapshot
from odoo_operator.controllers.instance.table import TRANSITIONS, Action, next_transition

P = Phase


def snap(phase: Phase, **fields: object) -> ReconcileSnapshot:
    base = ReconcileSnapshot(phase=phase, replicas=1, ready_replicas=0, db_initialized=True)
    return replace(base, **fields)  # type: ignore[arg-type]


def job(outcome: JobOutcome = JobOutcome.RUNNING, due: bool = True) -> JobSlot:
    return JobSlot(name="j", outcome=outcome, due=due)


def awaiting_backup() -> JobSlot:
    return replace(job(JobOutcome.NOT_STARTED), awaits_backup=True)


def rolling_back(outcome: JobOutcome) -> JobSlot:
    return replace(job(outcome), rolls_back=True)


OK, FAIL = JobOutcome.SUCCEEDED, JobOutcome.FAILED

# (snapshot, expected target or None when the phase stays, expected actions)
SCENARIOS: list[tuple[ReconcileSnapshot, Phase | None, tuple[Action, ...]]] = [
    (snap(P.RUNNING, blocker="unknown cluster 'x'"), P.ERROR, ()),
    (snap(P.RESTORING, blocker="no clusters secret", restore=job()), P.ERROR, ()),
    (snap(P.ERROR, blocker="still missing"), None, ()),
    (snap(P.ERROR), P.STARTING, ()),
    (snap(P.ERROR, db_initialized=False), P.UNINITIALIZED, ()),
    (snap(P.PROVISIONING, db_initialized=False), P.UNINITIALIZED, ()),
    (snap(P.PROVISIONING), P.STARTING, ()),
    (snap(P.UNINITIALIZED, db_initialized=False), None, ()),
    (snap(P.UNINITIALIZED, db_initialized=False, init=job()), P.INITIALIZING, ()),
    (snap(P.UNINITIALIZED, db_initialized=False, restore=job()), P.RESTORING, ()),
    (snap(P.INITIALIZING, db_initialized=False, init=job()), None, ()),
    (
        snap(P.INITIALIZING, db_initialized=False, init=job(OK)),
        P.STARTING,
        (Action.FINISH_INIT, Action.MARK_DB_INITIALIZED),
    ),
    (
        snap(P.INITIALIZING, db_initialized=False, init=job(FAIL)),
        P.INIT_FAILED,
        (Action.FINISH_INIT,),
    ),
    (snap(P.INITIALIZING, db_initialized=False), P.UNINITIALIZED, ()),
    (snap(P.INIT_FAILED, db_initialized=False), None, ()),
    (snap(P.INIT_FAILED, db_initialized=False, init=job()), P.INITIALIZING, ()),
    (snap(P.INIT_FAILED, db_initialized=False, restore=job()), P.RESTORING, ()),
    # Serving phases: restore beats upgrade beats backup.
    (
        snap(P.RUNNING, ready_replicas=1, restore=job(), upgrade=job(), backup=job()),
        P.RESTORING,
        (),
    ),
    (snap(P.STOPPED, replicas=0, upgrade=job(), backup=job()), P.UPGRADING, ()),
    (snap(P.DEGRADED, replicas=3, ready_replicas=1, backup=job()), P.BACKING_UP, ()),
    (snap(P.STARTING, upgrade=job(due=False)), None, ()),
    (snap(P.STARTING, upgrade=job(due=False), backup=job()), P.BACKING_UP, ()),
    (snap(P.STARTING, replicas=0), P.STOPPED, ()),
    (snap(P.STARTING, replicas=2, ready_replicas=2), P.RUNNING, ()),
    (snap(P.STARTING, replicas=2, ready_replicas=1), None, ()),
    (snap(P.RUNNING, replicas=0, ready_replicas=1), P.STOPPED, ()),
    (snap(P.RUNNING, replicas=3, ready_replicas=2), P.DEGRADED, ()),
    (snap(P.RUNNING, replicas=3, ready_replicas=0), P.STARTING, ()),
    (snap(P.RUNNING, replicas=3, ready_replicas=3), None, ()),
    (snap(P.DEGRADED, replicas=0), P.STOPPED, ()),
    (snap(P.DEGRADED, replicas=2, ready_replicas=2), P.RUNNING, ()),
    (snap(P.DEGRADED, replicas=2, ready_replicas=0), P.STARTING, ()),
    (snap(P.STOPPED, replicas=0), None, ()),
    (snap(P.STOPPED, replicas=1), P.STARTING, ()),
    (snap(P.BACKING_UP, backup=job(), backups_pending=2), None, ()),
    (
        snap(P.BACKING_UP, backup=job(OK), backups_pending=2),
        P.BACKING_UP,
        (Action.FINISH_BACKUP,),
    ),
    (
        snap(P.BACKING_UP, replicas=0, backup=job(FAIL), backups_pending=1),
        P.STOPPED,
        (Action.FINISH_BACKUP,),
    ),
    (
        snap(P.BACKING_UP, ready_replicas=1, backup=job(OK), backups_pending=1),
        P.RUNNING,
        (Action.FINISH_BACKUP,),
    ),
    (
        snap(P.BACKING_UP, replicas=2, ready_replicas=1, backup=job(OK), backups_pending=1),
        P.DEGRADED,
        (Action.FINISH_BACKUP,),
    ),
    (snap(P.BACKING_UP, backups_pending=0), P.STARTING, (Action.FINISH_BACKUP,)),
    (snap(P.UPGRADING, upgrade=job()), None, ()),
    (snap(P.UPGRADING, upgrade=job(OK)), P.STARTING, (Action.FINISH_UPGRADE, Action.RESTART_WEB)),
    (snap(P.UPGRADING, upgrade=job(FAIL)), P.STARTING, (Action.FINISH_UPGRADE,)),
    (snap(P.UPGRADING), P.STARTING, (Action.FINISH_UPGRADE,)),
    # Backup before upgrade: the upgrade waits for its backup (which runs meanwhile).
    (snap(P.RUNNING, ready_replicas=1, upgrade=awaiting_backup()), None, ()),
    (
        snap(P.RUNNING, ready_replicas=1, upgrade=awaiting_backup(), backup=job()),
        P.BACKING_UP,
        (),
    ),
    # Rollback: a failed upgrade that backed up first waits in Upgrading for its restore,
    # then goes to Restoring; once the rollback is settled it finishes as any other.
    (snap(P.UPGRADING, upgrade=rolling_back(FAIL)), None, ()),
    (
        snap(P.UPGRADING, upgrade=rolling_back(FAIL), restore=job(JobOutcome.NOT_STARTED)),
        P.RESTORING,
        (Action.FINISH_UPGRADE,),
    ),
    (
        snap(P.UPGRADING, upgrade=rolling_back(OK)),
        P.STARTING,
        (Action.FINISH_UPGRADE, Action.RESTART_WEB),
    ),
    (snap(P.RESTORING, restore=job()), None, ()),
    (
        snap(P.RESTORING, db_initialized=False, restore=job(OK)),
        P.STARTING,
        (Action.FINISH_RESTORE, Action.MARK_DB_INITIALIZED),
    ),
    (snap(P.RESTORING, restore=job(FAIL)), P.STARTING, (Action.FINISH_RESTORE,)),
    (
        snap(P.RESTORING, db_initialized=False, restore=job(FAIL)),
        P.UNINITIALIZED,
        (Action.FINISH_RESTORE,),
    ),
]


@pytest.mark.parametrize(("snapshot", "target", "actions"), SCENARIOS)
def test_transition(
    snapshot: ReconcileSnapshot, target: Phase | None, actions: tuple[Action, ...]
) -> None:
    transition = next_transition(snapshot)
    if target is None:
        assert transition is None
    else:
        assert transition is not None
        assert (transition.target, transition.actions) == (target, actions)


def test_every_row_is_exercised_by_a_scenario() -> None:
    used = {id(next_transition(s)) for s, target, _ in SCENARIOS if target is not None}
    unused = [i + 1 for i, row in enumerate(TRANSITIONS) if id(row) not in used]
    assert unused == []


slots = st.one_of(
    st.none(),
    st.builds(
        JobSlot,
        name=st.just("j"),
        outcome=st.sampled_from(JobOutcome),
        due=st.booleans(),
        awaits_backup=st.booleans(),
        rolls_back=st.booleans(),
    ),
)
snapshots = st.builds(
    ReconcileSnapshot,
    phase=st.sampled_from(Phase),
    replicas=st.integers(0, 5),
    ready_replicas=st.integers(0, 5),
    db_initialized=st.booleans(),
    blocker=st.one_of(st.none(), st.just("blocked")),
    init=slots,
    restore=slots,
    upgrade=slots,
    backup=slots,
    backups_pending=st.integers(0, 3),
)


@given(snapshots)
def test_first_match_wins_and_blockers_always_lead_to_error(snapshot: ReconcileSnapshot) -> None:
    transition = next_transition(snapshot)
    matching = [t for t in TRANSITIONS if snapshot.phase in t.sources and t.guard.holds(snapshot)]
    assert transition is (matching[0] if matching else None)
    if snapshot.blocker is not None and snapshot.phase is not Phase.ERROR:
        assert transition is not None
        assert transition.target is Phase.ERROR


@given(snapshots)
def test_serving_phases_never_get_stuck(snapshot: ReconcileSnapshot) -> None:
    """From a serving phase with no job and no blocker, the phase matches the replicas."""
    quiet = replace(snapshot, blocker=None, init=None, restore=None, upgrade=None, backup=None)
    if quiet.phase not in {P.STARTING, P.RUNNING, P.DEGRADED, P.STOPPED}:
        return
    transition = next_transition(quiet)
    settled = quiet.phase if transition is None else transition.target
    if quiet.replicas == 0:
        assert settled is P.STOPPED
    elif quiet.ready_replicas >= quiet.replicas or quiet.phase is P.STARTING:
        assert settled in {P.RUNNING, P.STARTING}
    else:
        assert settled in {P.DEGRADED, P.STARTING}


def test_progressing_phases_are_the_spec_list() -> None:
    assert {p.value for p in PROGRESSING} == {
        "Provisioning",
        "Initializing",
        "Starting",
        "Upgrading",
        "Restoring",
        "BackingUp",
    }


@given(snapshots)
def test_an_upgrade_never_runs_before_its_backup(snapshot: ReconcileSnapshot) -> None:
    transition = next_transition(snapshot)
    if transition is not None and transition.target is Phase.UPGRADING:
        assert snapshot.upgrade is not None
        assert not snapshot.upgrade.awaits_backup


@given(snapshots)
def test_a_failed_upgrade_awaiting_its_rollback_goes_to_restoring_only(
    snapshot: ReconcileSnapshot,
) -> None:
    """Web pods never start on the data a failed upgrade left, while a rollback is due."""
    upgrade = snapshot.upgrade
    if snapshot.phase is not Phase.UPGRADING or snapshot.blocker is not None:
        return
    if upgrade is None or not upgrade.rolls_back or upgrade.outcome is not JobOutcome.FAILED:
        return
    transition = next_transition(snapshot)
    if snapshot.restore is None:
        assert transition is None
    else:
        assert transition is not None
        assert transition.target is Phase.RESTORING

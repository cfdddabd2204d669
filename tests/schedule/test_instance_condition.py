"""The instance controller's status carries over the `BackupVerified` condition the
schedule controller writes (`instance.status.desired_status`), unchanged."""

from __future__ import annotations

from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.status import Observed, desired_status

VERIFIED = {
    "type": "BackupVerified", "status": "False", "reason": "Failed",
    "message": "nightly/shop/shop/20260101T000000Z.sql did not verify",
    "lastTransitionTime": "2026-01-01T00:05:00Z",
}  # fmt: skip


def observed(phase: Phase) -> Observed:
    return Observed("shop", phase, 1, 0, 0, True, None, None)


def test_the_condition_is_carried_over_as_it_is_whatever_the_phase() -> None:
    previous = desired_status(observed(Phase.RUNNING), None, "2026-01-01T00:00:00Z")
    previous["conditions"].append(VERIFIED)
    status = desired_status(observed(Phase.STOPPED), previous, "2026-01-02T00:00:00Z")
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Progressing", "BackupVerified"]
    assert status["conditions"][-1] == VERIFIED
    again = desired_status(observed(Phase.STOPPED), status, "2026-01-03T00:00:00Z")
    assert again == status  # computed twice from the same facts: nothing to write


def test_without_the_condition_none_is_made_up() -> None:
    status = desired_status(observed(Phase.RUNNING), None)
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Progressing"]

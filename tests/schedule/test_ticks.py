"""When a schedule backs up (`controllers.schedule.ticks`): each guarantee of the module
docstring, on a fake clock; and the backups' names (`controllers.schedule.backups`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from odoo_operator.api.backup_schedule import ConcurrencyPolicy
from odoo_operator.controllers.schedule.backups import job_name
from odoo_operator.controllers.schedule.ticks import Plan, latest_tick, plan

EVERY_MINUTE = "* * * * *"
NIGHTLY = "30 2 * * *"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def plan_at(now: datetime, since: datetime = T0, **changes: Any) -> Plan:
    options: dict[str, Any] = {
        "suspend": False, "since": since, "now": now, "unfinished": (),
    }  # fmt: skip
    options.update(changes)
    policy = options.pop("policy", ConcurrencyPolicy.FORBID)
    expression = str(options.pop("expression", EVERY_MINUTE))
    return plan(expression, None, policy, **options)


def test_nothing_is_due_before_the_first_tick_and_the_wake_up_is_the_tick_exactly() -> None:
    result = plan_at(at(0.25))
    assert result.tick is None
    assert result.requeue_after == pytest.approx(45.0)


def test_a_tick_that_came_is_made_and_the_next_wake_up_is_the_following_tick() -> None:
    result = plan_at(at(1) + timedelta(seconds=2))
    assert result.tick == at(1)
    assert result.requeue_after == pytest.approx(58.0)


def test_ticks_missed_while_down_give_one_catch_up_for_the_latest() -> None:
    result = plan_at(at(90.5))  # 90 ticks missed
    assert result.tick == at(90)
    after = plan_at(at(90.6), since=at(90))  # the catch-up recorded: nothing more
    assert after.tick is None


def test_a_nightly_schedule_down_for_ten_days_catches_up_once() -> None:
    since = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    result = plan_at(now, since=since, expression=NIGHTLY)
    assert result.tick == datetime(2026, 3, 11, 2, 30, tzinfo=UTC)


def test_a_yearly_schedule_finds_its_tick_years_back() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime(2026, 7, 1, tzinfo=UTC)
    assert latest_tick("0 0 1 1 *", None, since, now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert latest_tick("0 0 1 1 *", None, now - timedelta(days=1), now) is None


def test_suspend_makes_nothing_and_resuming_catches_up_once() -> None:
    assert plan_at(at(30.5), suspend=True).tick is None
    assert plan_at(at(30.5), suspend=False).tick == at(30)


def test_forbid_skips_a_tick_while_one_runs_and_the_skipped_tick_stays_skipped() -> None:
    running = ("nightly-202603011201",)
    result = plan_at(at(2.1), since=at(1), unfinished=running)
    assert result.tick is None
    assert result.skipped == at(2)
    # The controller records the skipped tick and passes it back as `since`.
    assert plan_at(at(2.6), since=at(2), unfinished=()).tick is None
    assert plan_at(at(3.0), since=at(2), unfinished=()).tick == at(3)


def test_allow_runs_beside_and_replace_names_the_running_ones() -> None:
    running = ("a", "b")
    allowed = plan_at(at(2.1), since=at(1), unfinished=running, policy=ConcurrencyPolicy.ALLOW)
    assert (allowed.tick, allowed.replace) == (at(2), ())
    replaced = plan_at(at(2.1), since=at(1), unfinished=running, policy=ConcurrencyPolicy.REPLACE)
    assert (replaced.tick, replaced.replace) == (at(2), ("a", "b"))


def test_a_time_zone_moves_the_tick_to_the_zone_wall_clock() -> None:
    since = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    result = plan(NIGHTLY, "America/Montreal", ConcurrencyPolicy.FORBID, suspend=False,
                  since=since, now=now, unfinished=())  # fmt: skip
    assert result.tick == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)  # 02:30 EST


def test_backup_names_are_the_tick_in_utc_and_fit_in_63_characters() -> None:
    assert job_name("nightly", at(1)) == "nightly-202603011201"
    long_a, long_b = "a" * 60 + "-x", "a" * 60 + "-y"
    name_a, name_b = job_name(long_a, at(1)), job_name(long_b, at(1))
    assert len(name_a) <= 63
    assert name_a.endswith("-202603011201")
    assert name_a != name_b  # cut at the same place, told apart by the hash
    assert job_name(long_a, at(1)) == name_a  # stable

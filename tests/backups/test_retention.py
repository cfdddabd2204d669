"""Retention as a pure function: the GFS rules of `backups.retention`, one by one, then a
simulated year of backups with a fake clock, pruned after every backup as the operator does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo_operator.backups.keys import BackupObject, backup_key, parse_key
from odoo_operator.backups.retention import Policy, keep

START = datetime(2026, 1, 1, 2, 30, tzinfo=UTC)


def backup(when: datetime) -> BackupObject:
    return BackupObject(when, backup_key("p", "ns", "shop", when, "zip"))


def daily(days: int, start: datetime = START) -> list[BackupObject]:
    return [backup(start + timedelta(days=i)) for i in range(days)]


def kept_days(kept: frozenset[BackupObject]) -> list[str]:
    return sorted(b.time.strftime("%Y-%m-%d") for b in kept)


def oracle(backups: list[BackupObject], policy: Policy) -> set[BackupObject]:
    """The GFS set written another way: per rule, the periods that have backups, newest N,
    and the newest backup of each."""
    ordered = sorted(backups, key=lambda b: (b.time, b.key))
    if not ordered:
        return set()
    result = {ordered[-1], *(ordered[-policy.keep_last :] if policy.keep_last else [])}
    for count, period in (
        (policy.keep_daily, lambda t: t.date()),
        (policy.keep_weekly, lambda t: t.isocalendar()[:2]),
        (policy.keep_monthly, lambda t: (t.year, t.month)),
    ):
        newest: dict[object, BackupObject] = {}
        for item in ordered:
            newest[period(item.time)] = item  # later ones overwrite: the newest stays
        for key in sorted(newest, reverse=True)[:count]:
            result.add(newest[key])
    return result


def test_nothing_in_nothing_out() -> None:
    assert keep([], Policy(keep_last=3)) == frozenset()


def test_the_newest_is_kept_whatever_the_policy() -> None:
    backups = daily(10)
    assert keep(backups, Policy()) == {backups[-1]}


def test_keep_last_keeps_the_n_newest() -> None:
    backups = daily(10)
    assert keep(backups, Policy(keep_last=3)) == set(backups[-3:])


def test_keep_daily_keeps_the_newest_of_each_of_the_n_latest_days_with_backups() -> None:
    hourly = [backup(START + timedelta(hours=i)) for i in range(24 * 5)]
    kept = keep(hourly, Policy(keep_daily=3))
    newest_of_day = [b for b in hourly if b.time.hour == 23]  # 23:30 each day
    assert kept == {hourly[-1], *newest_of_day[-2:]}  # the last day is still going on


def test_days_without_backups_do_not_use_up_the_count() -> None:
    gap = [*daily(3), *daily(2, START + timedelta(days=30))]  # the operator was down a month
    assert kept_days(keep(gap, Policy(keep_daily=4))) == [
        "2026-01-02", "2026-01-03", "2026-01-31", "2026-02-01",
    ]  # fmt: skip


def test_weeks_are_iso_weeks_monday_to_sunday() -> None:
    # 2026-01-04 is a Sunday, 2026-01-05 a Monday: one backup each, two weeks.
    sunday, monday = (
        backup(datetime(2026, 1, 4, 23, 0, tzinfo=UTC)),
        backup(datetime(2026, 1, 5, 1, 0, tzinfo=UTC)),
    )
    saturday = backup(datetime(2026, 1, 3, 23, 0, tzinfo=UTC))
    assert keep([saturday, sunday, monday], Policy(keep_weekly=2)) == {sunday, monday}


def test_months_are_calendar_months_in_utc() -> None:
    backups = daily(70)
    kept = keep(backups, Policy(keep_monthly=3))
    assert kept_days(kept) == ["2026-01-31", "2026-02-28", "2026-03-11"]


def test_rules_are_independent_and_their_union_is_kept() -> None:
    backups = daily(365)
    kept = keep(backups, Policy(keep_daily=7, keep_weekly=4, keep_monthly=3))
    assert kept_days(kept) == [
        "2026-10-31",  # monthly: October's newest
        "2026-11-30",  # monthly: November's newest
        "2026-12-13",  # weekly: Sunday of the ISO week before last but one
        "2026-12-20",  # weekly
        "2026-12-25", "2026-12-26", "2026-12-27",  # daily; the 27th is also a week's newest
        "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31",  # daily (31st: week, month)
    ]  # fmt: skip


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_daily must be >= 0, not -1"):
        Policy(keep_daily=-1)


policies = st.builds(
    Policy,
    keep_last=st.integers(0, 10),
    keep_daily=st.integers(0, 10),
    keep_weekly=st.integers(0, 6),
    keep_monthly=st.integers(0, 14),
)
# Gaps between backups: a few minutes (a retried tick) to weeks (the operator was down).
gaps = st.lists(st.integers(1, 60 * 24 * 21), min_size=1, max_size=120)


def timeline(minutes: list[int]) -> list[BackupObject]:
    when, found = START, []
    for gap in minutes:
        when += timedelta(minutes=gap)
        found.append(backup(when.replace(second=0)))
    return found


@given(gaps, policies)
def test_kept_is_a_subset_holding_the_newest_and_bounded(
    minutes: list[int], policy: Policy
) -> None:
    backups = timeline(minutes)
    kept = keep(backups, policy)
    assert kept <= set(backups)
    assert max(backups) in kept
    bound = 1 + policy.keep_last + policy.keep_daily + policy.keep_weekly + policy.keep_monthly
    assert len(kept) <= bound
    assert kept == oracle(backups, policy)


@given(gaps, policies, st.sampled_from(["keep_last", "keep_daily", "keep_weekly", "keep_monthly"]))
def test_a_more_generous_policy_never_keeps_less(
    minutes: list[int], policy: Policy, rule: str
) -> None:
    backups = timeline(minutes)
    more = Policy(**{**vars(policy), rule: getattr(policy, rule) + 1})
    assert keep(backups, policy) <= keep(backups, more)


@settings(max_examples=30)
@given(st.lists(st.integers(0, 3), min_size=366, max_size=366), policies)
def test_a_simulated_year_pruned_after_every_backup_keeps_exactly_the_gfs_set(
    backups_per_day: list[int], policy: Policy
) -> None:
    """A fake clock walks through a year, day by day; each day has 0 (operator down) to 3
    backups. After each backup the store is pruned as the operator prunes it. What remains
    at every step is exactly what the rules keep of every backup ever made: pruning early
    never loses a backup that a later evaluation would have kept."""
    store: set[BackupObject] = set()
    made: list[BackupObject] = []
    for day, count in enumerate(backups_per_day):
        for hour in (2, 10, 18)[:count]:
            new = backup(START.replace(hour=hour) + timedelta(days=day))
            made.append(new)
            store = set(keep({*store, new}, policy))
            assert store == oracle(made, policy)


def test_keys_round_trip_and_foreign_keys_are_not_backups() -> None:
    when = datetime(2026, 1, 31, 22, 0, tzinfo=UTC)
    key = backup_key("/backups/", "ns", "shop", when, "dump")
    assert key == "backups/ns/shop/20260131T220000Z.dump"
    under = "backups/ns/shop/"
    assert parse_key(key, under) == BackupObject(when, key)
    assert backup_key("", "ns", "shop", when, "zip") == "ns/shop/20260131T220000Z.zip"
    for foreign in (
        "backups/ns/shop/20260131T220000Z.zip.bak",
        "backups/ns/shop/manual.zip",
        "backups/ns/shop/20261331T220000Z.zip",  # month 13
        "backups/ns/shop/sub/20260131T220000Z.zip",
        "backups/ns/shop2/20260131T220000Z.zip",
        "backups/ns/shop/20260131T220000Z.tar",
    ):
        assert parse_key(foreign, under) is None, foreign

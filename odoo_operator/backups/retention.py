"""Which backups a retention policy keeps: grandfather-father-son over the backups' own times.

The rules (restic's `forget --keep-*`, evaluated in UTC):
- backups are taken newest first (by time, then key);
- `keepLast N` keeps the N newest backups;
- `keepDaily N` keeps, for each of the N most recent UTC calendar days that have a
  backup, the newest backup of that day; `keepWeekly N` does the same per ISO week
  (Monday to Sunday) and `keepMonthly N` per calendar month;
- the rules are evaluated independently and a backup is kept when any rule keeps it
  (a backup that is a day's and a week's newest counts for both);
- the newest backup is always kept, whatever the policy.
Days, weeks and months count only periods that have a backup: a week without backups
(the operator was down) does not use up one of the N.

Guarantees: a pure function of its arguments (no clock), the result is a subset of the
input that always holds the newest backup, and more generous policies never keep less.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from odoo_operator.backups.keys import BackupObject

Period = tuple[int, ...]


@dataclass(frozen=True)
class Policy:
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, not {value}")


def _day(when: datetime) -> Period:
    utc = when.astimezone(UTC)
    return (utc.year, utc.month, utc.day)


def _week(when: datetime) -> Period:
    year, week, _ = when.astimezone(UTC).isocalendar()
    return (year, week)


def _month(when: datetime) -> Period:
    utc = when.astimezone(UTC)
    return (utc.year, utc.month)


def _newest_per_period(
    newest_first: list[BackupObject], period: Callable[[datetime], Period], count: int
) -> set[BackupObject]:
    kept: set[BackupObject] = set()
    last: Period | None = None
    for backup in newest_first:
        if len(kept) == count:
            break
        current = period(backup.time)
        if current != last:
            kept.add(backup)
            last = current
    return kept


def keep(backups: Collection[BackupObject], policy: Policy) -> frozenset[BackupObject]:
    """The backups `policy` keeps (see the module docstring for the rules)."""
    newest_first = sorted(backups, reverse=True)
    if not newest_first:
        return frozenset()
    kept = {newest_first[0], *newest_first[: policy.keep_last]}
    kept |= _newest_per_period(newest_first, _day, policy.keep_daily)
    kept |= _newest_per_period(newest_first, _week, policy.keep_weekly)
    kept |= _newest_per_period(newest_first, _month, policy.keep_monthly)
    return frozenset(kept)

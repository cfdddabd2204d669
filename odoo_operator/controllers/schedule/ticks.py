"""When a schedule backs up: the due tick, catch-up, suspend and concurrencyPolicy, as a
pure function of the schedule and the clock (Kubernetes CronJob semantics).

Guarantees:
- the due tick is the latest tick `t` of `spec.schedule` (in `spec.timeZone`) with
  `since < t <= now`, where `since` is the last tick made or skipped, or the
  schedule's creation time before the first one; ticks missed
  while the operator was down (or the schedule suspended) give **one** catch-up backup,
  for the latest of them, never a burst;
- `suspend: true` makes nothing; ticks missed meanwhile give one catch-up on resume
  (as a CronJob, which counts suspended runs as missed);
- `Forbid` (default) makes nothing while a backup of the schedule is unfinished: the
  tick is `skipped`, and the controller records it (`status.lastSkippedTime`) and
  passes it back in `since`, so it stays skipped once that backup has finished: the
  next backup is at the next tick;
- `Allow` makes the backup whatever runs; `Replace` names the unfinished backups to
  delete before it is made;
- `requeue_after` is the time from `now` to the next tick after `now`, exactly (> 0):
  the controller is woken for it, and polls nothing in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from odoo_operator.api.backup_schedule import ConcurrencyPolicy
from odoo_operator.backups.cron import next_tick

# Windows searched for the latest missed tick, shortest first: a frequent schedule is
# found in the first, a yearly one in the last, and no search walks a year of minutes.
_WINDOWS = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=5 * 366),
)


@dataclass(frozen=True)
class Plan:
    tick: datetime | None  # make the backup of this tick now; None: nothing to make
    replace: tuple[str, ...]  # unfinished backups to delete first (Replace)
    skipped: datetime | None  # a due tick left out (Forbid), for the log
    requeue_after: float  # seconds until the next tick


def latest_tick(
    expression: str, zone: str | None, since: datetime, now: datetime
) -> datetime | None:
    """The latest tick in (since, now], or None."""
    for window in _WINDOWS:
        start = max(since, now - window)
        found: datetime | None = None
        tick = next_tick(expression, start, zone)
        while tick <= now:
            found = tick
            tick = next_tick(expression, tick, zone)
        if found is not None or start == since:
            return found
    return None


def plan(
    expression: str,
    zone: str | None,
    policy: ConcurrencyPolicy,
    *,
    suspend: bool,
    since: datetime,
    now: datetime,
    unfinished: tuple[str, ...],
) -> Plan:
    """What to do at `now` (see the guarantees)."""
    upcoming = next_tick(expression, now, zone)
    wait = max((upcoming - now).total_seconds(), 0.001)
    due = latest_tick(expression, zone, since, now)
    if due is None or suspend:
        return Plan(None, (), None, wait)
    if policy is ConcurrencyPolicy.FORBID and unfinished:
        return Plan(None, (), due, wait)
    replace = unfinished if policy is ConcurrencyPolicy.REPLACE else ()
    return Plan(due, replace, None, wait)

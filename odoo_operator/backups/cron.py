"""5-field cron expressions, as Kubernetes CronJob takes them, and their ticks in a time zone.

Guarantees:
- `cron_problem` accepts exactly five fields (minute hour day-of-month month day-of-week),
  each a comma list of `*`, a number or a range, optionally stepped (`*/15`, `1-5/2`);
  month and day-of-week also take three-letter names (`jan`, `mon`); day-of-week 0 and 7
  are Sunday. Anything else (seconds or year fields, `@daily`, `L`, `W`, `#`, `?`, `H`,
  out-of-range numbers) is refused with a message saying what is wrong.
- `zone_problem` accepts IANA time zone names that `zoneinfo` knows (the `tzdata`
  package is a dependency, so the set does not depend on the image's /usr/share/zoneinfo).
- `next_tick(expression, after, zone)` is the first tick strictly after `after`, evaluated
  on the wall clock of `zone` (UTC when None) and returned in UTC. Day-of-month and
  day-of-week, when both are restricted, match when either does (cron's rule). Across
  daylight saving time: a wall time the spring change skips fires at the first minute
  after the gap (02:30 -> 03:00); a wall time the autumn change repeats fires once, at
  its first occurrence.

croniter does the calendar arithmetic; this module is its typed, stricter front.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_NAMES = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat"
_VALUE = rf"(?:[0-9]+|{_NAMES})"
_ITEM = rf"(?:\*|{_VALUE}(?:-{_VALUE})?)(?:/[0-9]+)?"
_FIELD = re.compile(rf"{_ITEM}(?:,{_ITEM})*", re.IGNORECASE)
_LETTERS = re.compile(r"[a-z]", re.IGNORECASE)
_NAMED_FIELDS = ("month", "day-of-week")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a 5-field cron expression, or None when it is one."""
    fields = expression.split()
    if len(fields) != len(FIELD_NAMES):
        return (
            f"{expression!r} has {len(fields)} fields; a cron expression has 5: "
            "minute hour day-of-month month day-of-week (e.g. '30 2 * * *')"
        )
    for name, field in zip(FIELD_NAMES, fields, strict=True):
        if not _FIELD.fullmatch(field) or (_LETTERS.search(field) and name not in _NAMED_FIELDS):
            return f"{expression!r}: the {name} field {field!r} is not valid"
    if not croniter.is_valid(" ".join(fields)):
        return f"{expression!r}: a value is out of range or a step is zero"
    return None


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone name (e.g. UTC, America/Montreal)"
    return None


def next_tick(expression: str, after: datetime, zone: str | None = None) -> datetime:
    """The first tick strictly after `after` (an aware datetime), in UTC."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    tz = ZoneInfo(zone) if zone else UTC
    ticks = croniter(expression, after.astimezone(tz))
    while True:
        tick: datetime = ticks.get_next(datetime)
        local = tick.astimezone(tz)
        if local.fold == 0 or local.replace(fold=0).utcoffset() == local.utcoffset():
            return tick.astimezone(UTC)
        # the second occurrence of a repeated wall time (autumn): it already fired

"""The cron front (`backups.cron`): exactly five fields, IANA zones, ticks on the zone's
wall clock returned in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from odoo_operator.backups.cron import cron_problem, next_tick, zone_problem


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "30 2 * * *",
        "*/15 * * * *",
        "0 0 1 * *",
        "0 3 * * 0",
        "0 3 * * 7",
        "0 3 * * mon-fri",
        "0 3 1,15 jan,jul *",
        "5-55/10 8-18/2 * * 1-5",
        "  0   4  * * *  ",
    ],
)
def test_five_field_expressions_are_accepted(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("", "has 0 fields; a cron expression has 5"),
        ("* * * *", "has 4 fields"),
        ("0 * * * * *", "has 6 fields"),  # croniter's seconds field
        ("0 0 1 1 * 2026", "has 6 fields"),  # a year field
        ("@daily", "has 1 fields"),
        ("H * * * *", "the minute field 'H' is not valid"),
        ("0 0 L * *", "the day-of-month field 'L' is not valid"),
        ("0 0 15W * *", "the day-of-month field '15W' is not valid"),
        ("0 0 * * 1#2", "the day-of-week field '1#2' is not valid"),
        ("0 0 ? * *", "the day-of-month field '?' is not valid"),
        ("mon * * * *", "the minute field 'mon' is not valid"),
        ("60 * * * *", "out of range"),
        ("0 24 * * *", "out of range"),
        ("0 0 32 * *", "out of range"),
        ("0 0 * 13 *", "out of range"),
        ("0 0 * * 8", "out of range"),
    ],
)
def test_anything_else_is_refused_saying_what(expression: str, words: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None
    assert words in problem


def test_zones_are_iana_names() -> None:
    assert zone_problem("UTC") is None
    assert zone_problem("America/Montreal") is None
    for bad in ("Mars/Olympus", "EST+5", "../etc/passwd", ""):
        assert zone_problem(bad) == (
            f"{bad!r} is not an IANA time zone name (e.g. UTC, America/Montreal)"
        )


def test_next_tick_is_strictly_after_and_in_utc() -> None:
    after = datetime(2026, 1, 31, 2, 30, tzinfo=UTC)
    assert next_tick("30 2 * * *", after) == datetime(2026, 2, 1, 2, 30, tzinfo=UTC)
    assert next_tick("*/15 * * * *", after) == after + timedelta(minutes=15)


def test_next_tick_follows_the_zone_wall_clock_across_daylight_saving() -> None:
    zone = "America/Montreal"
    winter = next_tick("30 2 * * *", datetime(2026, 1, 10, tzinfo=UTC), zone)
    summer = next_tick("30 2 * * *", datetime(2026, 7, 10, tzinfo=UTC), zone)
    assert (winter.hour, summer.hour) == (7, 6)  # 02:30 EST = 07:30 UTC, EDT = 06:30 UTC
    assert winter.tzinfo == summer.tzinfo == UTC


def test_daylight_saving_changes_neither_skip_a_day_nor_fire_twice() -> None:
    zone, montreal = "America/Montreal", ZoneInfo("America/Montreal")
    spring = next_tick("30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), zone)
    assert spring.astimezone(montreal).isoformat() == "2026-03-08T03:00:00-04:00"  # in the gap
    autumn = [datetime(2026, 10, 31, 12, tzinfo=UTC)]
    for _ in range(2):
        autumn.append(next_tick("30 1 * * *", autumn[-1], zone))
    assert [t.astimezone(montreal).isoformat() for t in autumn[1:]] == [
        "2026-11-01T01:30:00-04:00",  # 01:30 happens twice that night: it fires once
        "2026-11-02T01:30:00-05:00",
    ]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_tick("* * * * *", datetime(2026, 1, 1))

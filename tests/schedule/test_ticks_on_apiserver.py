"""The schedule controller makes its OdooBackupJobs on the real API server, on a fake
clock, observed through `kubectl`: names and keys from the tick, no double after a
restart, one catch-up after downtime, suspend, concurrencyPolicy Forbid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.instance.conftest import play_job, running_instance
from tests.schedule.conftest import Schedules, minute

NAME = "nightly"
SECOND = dt.timedelta(seconds=1)


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M")


def rfc3339(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def created(schedule: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(
        schedule["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )


def ready(schedule: dict[str, Any]) -> dict[str, Any]:
    conditions = {c["type"]: c for c in schedule["status"]["conditions"]}
    return dict(conditions["Ready"])


async def started(schedules: Schedules, spec: dict[str, Any] | None = None) -> dt.datetime:
    """A running instance `shop` and schedule NAME; returns the schedule's first tick."""
    await running_instance(schedules.operator, "shop", {})
    schedule = await schedules.apply(NAME, spec or schedules.spec())
    return minute(created(schedule), plus=1)


async def test_each_tick_makes_one_owned_backup_named_and_keyed_by_the_tick(
    schedules: Schedules,
) -> None:
    first = await started(schedules)
    await schedules.at(first - SECOND, NAME)
    assert await schedules.backups() == {}  # the first tick has not come

    await schedules.at(first + 2 * SECOND, NAME)
    job = await schedules.wait_backup(f"{NAME}-{stamp(first)}")
    key = f"nightly/{schedules.namespace}/shop/{first.strftime('%Y%m%dT%H%M%SZ')}.sql"
    assert job["spec"]["destination"]["objectKey"] == key
    assert job["spec"]["destination"]["s3CredentialsSecretRef"] == {"name": "s3-credentials"}
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == (
        "OdooBackupSchedule", NAME, True,
    )  # fmt: skip
    schedule = await schedules.get(NAME)
    assert schedule["status"]["lastScheduleTime"] == rfc3339(first)
    assert ready(schedule)["reason"] == "Scheduled"
    assert ready(schedule)["message"] == f"next backup at {rfc3339(minute(first, plus=1))}"
    columns = await schedules.kubectl("get", "backupschedule", NAME)
    assert "* * * * *" in columns
    assert "shop" in columns

    await play_job(schedules.operator, "odoobackupjobs", f"{NAME}-{stamp(first)}")
    await schedules.wait_until_finished(f"{NAME}-{stamp(first)}")  # else Forbid skips
    second = minute(first, plus=1)
    await schedules.at(second + SECOND, NAME)
    await schedules.wait_backup(f"{NAME}-{stamp(second)}")
    assert len(await schedules.backups()) == 2


async def test_a_restarted_operator_that_lost_its_status_write_makes_no_second_backup(
    schedules: Schedules,
) -> None:
    first = await started(schedules)
    await schedules.at(first + SECOND, NAME)
    await schedules.wait_backup(f"{NAME}-{stamp(first)}")
    await schedules.operators.stop()
    # As if the operator had died between creating the backup and recording the tick.
    await schedules.kubectl("patch", "backupschedule", NAME, "--subresource=status",
                            "--type=json", "-p", '[{"op":"remove","path":"/status"}]')  # fmt: skip
    schedules.clock.now = first + 30 * SECOND
    await schedules.operators.start()
    await schedules.at(first + 31 * SECOND, NAME)
    schedule = await schedules.wait(NAME, lambda s: "lastScheduleTime" in s.get("status", {}),
                                    "tick recorded again")  # fmt: skip
    assert schedule["status"]["lastScheduleTime"] == rfc3339(first)
    assert sorted(await schedules.backups()) == [f"{NAME}-{stamp(first)}"]


async def test_ticks_missed_while_the_operator_was_down_give_one_catch_up(
    schedules: Schedules,
) -> None:
    first = await started(schedules)
    await schedules.at(first + SECOND, NAME)
    await play_job(schedules.operator, "odoobackupjobs", f"{NAME}-{stamp(first)}")
    await schedules.operator.wait_for_phase("shop", "Running")
    await schedules.operators.stop()
    down_until = minute(first, plus=7, seconds=20)  # ticks first+1 ... first+7 missed
    schedules.clock.now = down_until
    await schedules.operators.start()
    await schedules.at(down_until + SECOND, NAME)
    latest = minute(first, plus=7)
    await schedules.wait_backup(f"{NAME}-{stamp(latest)}")
    await schedules.settle()
    assert sorted(await schedules.backups()) == [
        f"{NAME}-{stamp(first)}", f"{NAME}-{stamp(latest)}",
    ]  # fmt: skip
    assert (await schedules.get(NAME))["status"]["lastScheduleTime"] == rfc3339(latest)


async def test_suspend_stops_ticks_and_resuming_catches_up_once(schedules: Schedules) -> None:
    first = await started(schedules, None)
    await schedules.apply(NAME, schedules.spec(suspend=True))
    await schedules.at(minute(first, plus=3, seconds=1), NAME)
    schedule = await schedules.get(NAME)
    assert await schedules.backups() == {}
    assert (ready(schedule)["status"], ready(schedule)["reason"]) == ("False", "Suspended")

    await schedules.apply(NAME, schedules.spec(suspend=False))
    await schedules.at(minute(first, plus=3, seconds=2), NAME)
    await schedules.wait_backup(f"{NAME}-{stamp(minute(first, plus=3))}")
    assert len(await schedules.backups()) == 1


async def test_forbid_skips_a_tick_while_a_backup_runs(schedules: Schedules) -> None:
    first = await started(schedules)
    await schedules.at(first + SECOND, NAME)
    job = f"{NAME}-{stamp(first)}"
    await schedules.wait_backup(job)
    second, third = minute(first, plus=1), minute(first, plus=2)
    await schedules.at(second + SECOND, NAME)  # the first backup has not finished
    assert sorted(await schedules.backups()) == [job]

    schedule = await schedules.get(NAME)
    assert schedule["status"]["lastSkippedTime"] == rfc3339(second)

    await play_job(schedules.operator, "odoobackupjobs", job)
    await schedules.wait_until_finished(job)
    await schedules.at(second + 30 * SECOND, NAME)  # finished: the second tick stays skipped
    assert sorted(await schedules.backups()) == [job]
    assert (await schedules.get(NAME))["status"]["lastScheduleTime"] == rfc3339(first)

    await schedules.at(third + SECOND, NAME)
    await schedules.wait_backup(f"{NAME}-{stamp(third)}")
    assert sorted(await schedules.backups()) == [job, f"{NAME}-{stamp(third)}"]

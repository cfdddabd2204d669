"""A backup schedule on the real clock, end to end in the sandbox: two ticks each make
an OdooBackupJob whose container (the real runner) puts the backup in S3, the
verification Job (the real `odoo-operator job verify`) restores it into a scratch
database, and retention (`keepLast: 1`) deletes the first backup once the second landed.
Observed through `kubectl`, the schedule's status and S3 listings (docs/backups.md).

The second tick is set (by applying a new `schedule`) once the first backup passed its
verification: a fixed tick a minute after the first came while that backup still ran on
a loaded machine, and `concurrencyPolicy: Forbid` rightly skipped it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from odoo_operator.controllers.resources import ODOO_BACKUP_SCHEDULES
from odoo_operator.runtime import KubeObject, ObjectKey
from odoo_operator.runtime.client import connect
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.sandbox.runner import Sandbox
from tests.kubectl import kubectl
from tests.sandbox.conftest import wait_for
from tests.sandbox.test_backup_first import (
    keys_under,
    running_instance,
    wait_condition,
    working_databases,
)
from tests.sandbox.test_job_resources import apply

SCHEDULE = """
apiVersion: bemade.org/v1alpha1
kind: OdooBackupSchedule
metadata: {{name: two-ticks, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
  schedule: "{cron}"
  destination:
    bucket: {bucket}
    prefix: minutely
    endpoint: {endpoint}
    s3CredentialsSecretRef: {{name: {secret}, namespace: {operator_ns}}}
  retention: {{keepLast: 1}}
  verify: true
"""
# Up to two and a half minutes to the tick, then a backup and its verification, each a
# real process, on a loaded machine (over four minutes at load 25): a guard, not a bound.
WITHIN = 600.0


def next_tick() -> tuple[str, dt.datetime]:
    """A cron expression naming one time a day, 90 to 150 s from now: after the schedule
    exists (or has its new expression) even when `kubectl apply` is slow."""
    now = dt.datetime.now(dt.UTC)
    tick = (now + dt.timedelta(seconds=150)).replace(second=0, microsecond=0)
    return f"{tick.minute} {tick.hour} * * *", tick


def key_of_tick(prefix: str, tick: dt.datetime) -> str:
    """The key docs/backups.md promises, written out here rather than taken from
    `backups.keys.backup_key`, so a change of the format fails this test."""
    return f"{prefix}{tick:%Y%m%dT%H%M%S}Z.zip"


def status(schedule: KubeObject | None) -> dict[str, Any]:
    return (schedule or {}).get("status") or {}


def verified(after: str) -> Callable[[KubeObject | None], bool]:
    """A backup newer than `after` (a key; "" for any) passed verification and is the
    one retention last ran after."""

    def holds(schedule: KubeObject | None) -> bool:
        last = status(schedule).get("lastVerified") or {}
        return (
            last.get("result") == "Passed"
            and last.get("key", "") > after
            and status(schedule).get("prunedAfter") == last["key"]
        )

    return holds


@pytest.mark.timeout(1500)  # two ticks, each a wait of up to WITHIN
async def test_each_tick_a_verified_backup_lands_and_retention_keeps_the_newest(
    sandbox: Sandbox,
) -> None:
    values, database = await running_instance(sandbox, "")
    kc, ns, run = sandbox.kubeconfig, values["ns"], asyncio.to_thread
    prefix, key = f"minutely/{ns}/myodoo/", ObjectKey(ns, "two-ticks")
    cron, first_tick = next_tick()
    await run(apply, kc, SCHEDULE, **values, cron=cron)
    kube = await connect(kc, RuntimeMetrics(process_metrics=False))
    try:
        schedule = await wait_for(
            kube, ODOO_BACKUP_SCHEDULES, key, verified(""), "verified", within=WITHIN
        )
        first = status(schedule)["lastVerified"]["key"]
        assert first == key_of_tick(prefix, first_tick)
        await run(wait_condition, kc, ns, "odoo/myodoo", "BackupVerified")

        # The second tick's backup lands and passes; retention then keeps it alone.
        cron, second_tick = next_tick()
        await run(apply, kc, SCHEDULE, **values, cron=cron)
        schedule = await wait_for(
            kube, ODOO_BACKUP_SCHEDULES, key, verified(first), "verified again", within=WITHIN
        )
        newest = status(schedule)["lastSuccessfulBackup"]["key"]
        assert newest == status(schedule)["lastVerified"]["key"] == key_of_tick(prefix, second_tick)
        assert await keys_under(sandbox, prefix) == [newest]
        assert status(schedule)["backups"] == 1
        assert await working_databases(sandbox, database) == []  # scratch databases dropped
    finally:
        await run(kubectl, kc, "delete", "-n", ns, "backupschedule", "two-ticks")
        await kube.close()

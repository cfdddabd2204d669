"""After a scheduled backup: retention on the S3 server deletes exactly what the policy
does not keep (and nothing after a failed backup); verification restores the backup for
real (the test runs the verify Job's container command, `odoo-operator job verify`,
against PostgreSQL and S3) and reports a pass, and a failure for an object corrupted in
S3: status, Event, the instance's `BackupVerified` condition, the metric."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
from kubernetes_asyncio.client import BatchV1Api, CoreV1Api

from odoo_operator.controllers.instance import names
from odoo_operator.controllers.jobs import naming
from odoo_operator.sandbox.postgres import PostgresServer
from tests.instance.conftest import batch_job_of, play_job, running_instance
from tests.runtime.helpers import sample
from tests.schedule.conftest import Schedules, minute, run_container

NAME = "nightly"
SECOND = dt.timedelta(seconds=1)
DELETED = "odoo_operator_backup_retention_deleted_total"
VERIFIED = "odoo_operator_backup_last_verified_timestamp_seconds"


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M")


def created(schedule: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(
        schedule["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )


async def put(schedules: Schedules, key: str, body: bytes = b"backup") -> None:
    async with schedules.s3.client() as s3:
        await s3.put_object(Bucket=schedules.bucket, Key=key, Body=body)


async def test_retention_deletes_exactly_what_the_policy_drops_and_nothing_after_a_failure(
    schedules: Schedules,
) -> None:
    ns = schedules.namespace
    under = f"nightly/{ns}/shop/"
    older = [f"{under}2025010{day}T023000Z.sql" for day in (1, 2, 3)]
    foreign = [f"{under}manual-before-upgrade.sql", f"{under}20250104T023000Z.sql.bak",
               f"nightly/{ns}/other/20250101T023000Z.sql"]  # fmt: skip
    for key in older + foreign:
        await put(schedules, key)
    await running_instance(schedules.operator, "shop", {})
    spec = schedules.spec(retention={"keepLast": 2})
    first = minute(created(await schedules.apply(NAME, spec)), plus=1)

    await schedules.at(first + SECOND, NAME)
    job = await schedules.wait_backup(f"{NAME}-{stamp(first)}")
    new_key = job["spec"]["destination"]["objectKey"]
    await put(schedules, new_key)  # what the backup container uploads
    await play_job(schedules.operator, "odoobackupjobs", job["metadata"]["name"])
    schedule = await schedules.wait(NAME, lambda s: s.get("status", {}).get("prunedAfter")
                                    == new_key, "retention after the backup")  # fmt: skip
    assert await schedules.listing() == sorted([older[-1], new_key, *foreign])
    assert schedule["status"]["backups"] == 2
    assert schedule["status"]["lastSuccessfulBackup"]["key"] == new_key
    registry = schedules.operator.manager.metrics.registry
    assert sample(registry, DELETED, namespace=ns, instance="shop") == 2

    await schedules.operator.wait_for_phase("shop", "Running")
    second = minute(first, plus=1)
    await schedules.at(second + SECOND, NAME)
    failed = f"{NAME}-{stamp(second)}"
    await schedules.wait_backup(failed)
    await play_job(schedules.operator, "odoobackupjobs", failed, succeeded=False)
    await schedules.wait_until_finished(failed)
    schedule = await schedules.get(NAME)
    assert schedule["status"]["prunedAfter"] == new_key  # nothing ran for the failed one
    assert schedule["status"]["lastSuccessfulBackup"]["key"] == new_key
    assert await schedules.listing() == sorted([older[-1], new_key, *foreign])
    assert sample(registry, DELETED, namespace=ns, instance="shop") == 2


async def _database_with_rows(schedules: Schedules, server: PostgresServer) -> None:
    """The instance's database with a table, made as its role (as Odoo would make it)."""
    instance = await schedules.operator.get("shop")
    database = instance["spec"]["database"]["name"]
    secret = await CoreV1Api(schedules.operator.api).read_namespaced_secret(
        names.user_secret("shop"), schedules.namespace
    )
    keys = (names.USER_SECRET_USERNAME, names.USER_SECRET_PASSWORD)
    role, password = (base64.b64decode(secret.data[key]).decode() for key in keys)
    login = {"host": server.host, "port": server.port, "user": role, "password": password}
    connection = await asyncpg.connect(database="postgres", **login)
    try:
        quoted = await connection.fetchval("SELECT format('%I', $1::text)", database)
        await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()
    connection = await asyncpg.connect(database=database, **login)
    try:
        await connection.execute("CREATE TABLE partner (id serial PRIMARY KEY, name text)")
        await connection.execute(
            "INSERT INTO partner (name) SELECT 'p' || n FROM generate_series(1, 50) n"
        )
    finally:
        await connection.close()


async def _backup_for_real(schedules: Schedules, job: str, tmp_path: Path) -> None:
    batch = await batch_job_of(schedules.operator, "odoobackupjobs", job)
    done = await run_container(schedules.operator, batch, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    await schedules.wait_until_finished(job)


async def _verify_job(schedules: Schedules, job: str) -> str:
    """The verification batch Job of the OdooBackupJob `job`, once the schedule made it."""
    backup = (await schedules.backups())[job]
    name = naming.batch_job_name("verify", job, backup["metadata"]["uid"])
    batch = BatchV1Api(schedules.operator.api)
    deadline = asyncio.get_running_loop().time() + 60
    while name not in {
        j.metadata.name for j in (await batch.list_namespaced_job(schedules.namespace)).items
    }:
        assert asyncio.get_running_loop().time() < deadline, f"no verification Job {name}"
        await asyncio.sleep(0.1)
    return name


def _verified(schedule: dict[str, Any]) -> dict[str, Any]:
    return dict(schedule.get("status", {}).get("lastVerified") or {})


async def _condition(schedules: Schedules) -> dict[str, Any]:
    instance = await schedules.operator.get("shop")
    found = {c["type"]: c for c in instance["status"].get("conditions", [])}
    return dict(found.get("BackupVerified") or {})


async def test_verification_passes_for_a_good_backup_and_fails_for_a_corrupted_one(
    schedules: Schedules, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    ns = schedules.namespace
    await running_instance(schedules.operator, "shop", {})
    await _database_with_rows(schedules, postgres_server)
    first = minute(created(await schedules.apply(NAME, schedules.spec(verify=True))), plus=1)

    await schedules.at(first + SECOND, NAME)
    good = f"{NAME}-{stamp(first)}"
    await schedules.wait_backup(good)
    await _backup_for_real(schedules, good, tmp_path)
    good_key = (await schedules.backups())[good]["spec"]["destination"]["objectKey"]
    assert good_key in await schedules.listing()
    verify = await _verify_job(schedules, good)
    (container,) = (await BatchV1Api(schedules.operator.api).read_namespaced_job(
        verify, ns)).spec.template.spec.containers  # fmt: skip
    assert container.args[:2] == ["job", "verify"]
    assert {e.name for e in container.env if e.value is not None} == {"PGHOST", "PGPORT"}
    done = await run_container(schedules.operator, verify, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    schedule = await schedules.wait(NAME, lambda s: _verified(s).get("key") == good_key,
                                    "the first verification recorded")  # fmt: skip
    assert _verified(schedule)["result"] == "Passed"
    await schedules.operator.wait_for_event("BackupVerified")
    registry = schedules.operator.manager.metrics.registry
    passed_at = sample(registry, VERIFIED, namespace=ns, schedule=NAME, instance="shop")
    assert passed_at > 0
    condition = await _condition(schedules)
    assert (condition["status"], condition["reason"]) == ("True", "Passed")

    await schedules.operator.wait_for_phase("shop", "Running")
    second = minute(first, plus=1)
    await schedules.at(second + SECOND, NAME)
    bad = f"{NAME}-{stamp(second)}"
    await schedules.wait_backup(bad)
    await _backup_for_real(schedules, bad, tmp_path)
    bad_key = (await schedules.backups())[bad]["spec"]["destination"]["objectKey"]
    async with schedules.s3.client() as s3:
        answer = await s3.get_object(Bucket=schedules.bucket, Key=bad_key)
        async with answer["Body"] as body:
            data = await body.read()
        await s3.put_object(Bucket=schedules.bucket, Key=bad_key, Body=data[: len(data) // 2])
    verify = await _verify_job(schedules, bad)
    done = await run_container(schedules.operator, verify, tmp_path)
    assert done.returncode == 1, done.stderr + done.stdout
    schedule = await schedules.wait(NAME, lambda s: _verified(s).get("key") == bad_key,
                                    "the second verification recorded")  # fmt: skip
    assert _verified(schedule)["result"] == "Failed"
    assert verify in _verified(schedule)["message"]
    warning = await schedules.operator.wait_for_event("BackupVerificationFailed")
    assert warning.type == "Warning"
    assert sample(registry, VERIFIED, namespace=ns, schedule=NAME, instance="shop") == passed_at
    condition = await _condition(schedules)
    assert (condition["status"], condition["reason"]) == ("False", "Failed")

    # The instance controller writes its own status and keeps the condition.
    await schedules.operator.patch("shop", {"replicas": 0})
    await schedules.operator.wait_for_phase("shop", "Stopped")
    condition = await _condition(schedules)
    assert (condition["status"], condition["reason"]) == ("False", "Failed")
    described = await schedules.kubectl("get", "backupschedule", NAME)
    assert "Failed" in described

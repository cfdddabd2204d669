"""Failures at every stage: one clear line, a non-zero exit, and nothing lost or left over.

Mid-run faults are placed deterministically: the test waits until the runner has done
something observable (a part on S3, a temporary database), freezes it with SIGSTOP while
it breaks the world, then lets it go on.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from odoo_operator.sandbox.s3 import S3Server
from tests.runner.conftest import (
    Result,
    Running,
    World,
    make_filestore,
    tree_fingerprint,
    wait_for,
)
from tests.runner.proxy import CuttableProxy


def events(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def frozen(running: Running) -> Iterator[None]:
    os.kill(running.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(running.process.pid, signal.SIGCONT)


# --- backup -----------------------------------------------------------------------------


def test_s3_stopped_mid_upload_fails_with_one_clear_line(
    world: World, big_database: str, tmp_path: Path
) -> None:
    server = S3Server(tmp_path / "own-s3")
    server.start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name=server.region,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
        )
        client.create_bucket(Bucket=world.bucket)
        env = world.job_env(
            AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key
        )
        running = world.start_job(
            "backup", "--database", big_database, "--format", "sql",
            "--endpoint", server.endpoint, "--bucket", world.bucket, "--key", "big.sql", env=env,
        )  # fmt: skip
        try:
            wait_for(lambda: world.uploaded_parts(client) >= 1, "a first part on S3")
            for _ in frozen(running):
                server.stop()
            result = running.finish()
        finally:
            running.stop()
    finally:
        server.stop()
    assert result.code == 1
    assert result.error_line.startswith("error: S3 upload of part ")
    assert f"of s3://{world.bucket}/big.sql failed" in result.error_line
    assert "backup.abort_failed" in {e["event"] for e in events(result)}


def test_a_cut_network_mid_upload_leaves_nothing_under_the_key(
    world: World, big_database: str
) -> None:
    proxy = CuttableProxy(world.s3.port)
    running = world.start_job(
        "backup", "--database", big_database, "--format", "sql",
        "--endpoint", proxy.endpoint, "--bucket", world.bucket, "--key", "big.sql",
    )  # fmt: skip
    try:
        wait_for(lambda: world.uploaded_parts() >= 1, "a first part on S3")
        for _ in frozen(running):
            proxy.cut()
        result = running.finish()
    finally:
        running.stop()
    assert result.code == 1
    assert "S3 upload of part" in result.error_line
    assert world.keys() == []  # the store kept running: no object, no partial object
    for upload in world.client.list_multipart_uploads(Bucket=world.bucket).get("Uploads", []):
        world.client.abort_multipart_upload(
            Bucket=world.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )


def test_a_role_that_cannot_read_the_database_gets_a_clear_error(world: World) -> None:
    database = world.create_odoo_database("not_yours", as_superuser=True)
    world.admin_sql("REVOKE SELECT ON active_users FROM PUBLIC", database)
    result = world.backup(database, "nope.sql", "sql")
    assert result.code == 1
    assert result.error_line.startswith("error: pg_dump failed: ")
    assert "permission denied for" in result.error_line
    assert world.keys() == []
    assert world.pending_uploads() == []
    world.admin_sql(f"DROP DATABASE {database}")


def test_a_zip_backup_needs_an_initialized_odoo_database(world: World) -> None:
    world.admin_sql(f'CREATE DATABASE plain_pg OWNER "{world.role}"')
    result = world.backup("plain_pg", "x.zip", "zip", "--no-filestore")
    assert result.code == 1
    assert result.error_line == (
        "error: database 'plain_pg' is not an initialized Odoo database (no installed base "
        "module in ir_module_module); a zip backup needs one, use --format sql or dump"
    )
    assert world.keys() == []
    assert world.pending_uploads() == []


def test_client_tools_older_than_the_server_are_refused(world: World, tmp_path: Path) -> None:
    shims = tmp_path / "old-clients"
    shims.mkdir()
    for tool in ("pg_dump", "psql"):
        shim = shims / tool
        shim.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n")
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = world.job_env(PATH=f"{shims}:{os.environ['PATH']}")
    database = world.create_odoo_database("too_new")
    before = world.fingerprint(database)

    backup = world.job(
        "backup", "--database", database, "--format", "sql", *world.s3_flags("x"), env=env
    )
    assert backup.code == 1
    major = world.server_major()
    assert backup.error_line.startswith(
        f"error: pg_dump 9.6.24 is older than the PostgreSQL server ({major}."
    )
    assert f"use client tools of version {major} or newer" in backup.error_line
    assert world.keys() == []
    assert world.pending_uploads() == []

    world.put("x", b"--\n-- PostgreSQL database dump\n--\n")
    restore = world.job(
        "restore", "--database", database, "--format", "sql", *world.s3_flags("x"), env=env
    )
    assert restore.code == 1
    assert restore.error_line.startswith("error: psql 9.6.24 is older than the PostgreSQL server")
    assert world.fingerprint(database) == before


# --- restore ----------------------------------------------------------------------------


@pytest.fixture
def live(world: World) -> tuple[str, Path]:
    """A target in use: a database with data and its filestore, fingerprinted by the test."""
    target = world.create_odoo_database("live")
    world.role_sql(target, "CREATE TABLE only_here (x text); INSERT INTO only_here VALUES ('old')")
    filestore = make_filestore(world.tmp / "data" / "filestore" / target)
    return target, filestore


def unchanged(world: World, target: str, filestore: Path) -> tuple[object, object]:
    return world.fingerprint(target), tree_fingerprint(filestore, detailed=True)


def test_a_role_without_createdb_gets_a_clear_error_and_nothing_changes(
    world: World, live: tuple[str, Path]
) -> None:
    target, filestore = live
    source = world.create_odoo_database("source")
    assert world.backup(source, "b.zip", "zip", "--no-filestore").code == 0
    before = unchanged(world, target, filestore)
    world.admin_sql(f'ALTER ROLE "{world.role}" NOCREATEDB')

    result = world.restore(target, "b.zip", "zip", "--filestore", str(filestore))
    assert result.code == 1
    assert result.error_line == (
        "error: cannot create the temporary database: permission denied to create database "
        "(the role needs CREATEDB)"
    )
    assert unchanged(world, target, filestore) == before
    assert world.leftovers(filestore) == []


def test_a_target_owned_by_another_role_is_left_as_it_was(world: World) -> None:
    """The load succeeds; the swap is refused; the filestore swap already done is undone."""
    source = world.create_odoo_database("source")
    files = make_filestore(world.tmp / "source-fs")
    assert world.backup(source, "b.zip", "zip", "--filestore", str(files)).code == 0
    target = world.create_odoo_database("someone_elses", as_superuser=True)
    filestore = make_filestore(world.tmp / "fs" / target)
    before = unchanged(world, target, filestore)

    result = world.restore(target, "b.zip", "zip", "--filestore", str(filestore))
    assert result.code == 1
    assert result.error_line == (
        f"error: cannot swap in the restored database {target!r}: "
        f"must be owner of database {target}"
    )
    assert unchanged(world, target, filestore) == before
    assert world.leftovers(filestore) == []
    world.admin_sql(f"DROP DATABASE {target}")


_GOOD_ARTIFACTS: dict[str, bytes] = {}


def damage(data: bytes, how: str) -> bytes:
    if how.startswith("cut at "):
        return data[: int(len(data) * float(how.removeprefix("cut at ").rstrip("%")) / 100)]
    if how == "cut before the completion line":
        return data[: data.rindex(b"--\n-- PostgreSQL database dump complete")]
    assert how == "one byte flipped mid-way"
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("fmt", "how", "expected"),
    [
        ("zip", "cut at 30%", "the zip archive is truncated or corrupt"),
        ("zip", "cut at 97%", "the zip archive is truncated or corrupt"),
        ("zip", "one byte flipped mid-way", "the zip archive is truncated or corrupt"),
        ("sql", "cut at 50%", "the artifact is truncated"),
        ("sql", "cut before the completion line", "does not end with pg_dump's completion line"),
        ("dump", "cut at 50%", "loading the backup failed in pg_restore"),
        ("dump", "one byte flipped mid-way", "loading the backup failed in pg_restore"),
    ],
)
def test_a_damaged_artifact_changes_nothing(
    world: World, live: tuple[str, Path], fmt: str, how: str, expected: str
) -> None:
    target, filestore = live
    if fmt not in _GOOD_ARTIFACTS:  # made once per format, by the real runner
        source = world.create_odoo_database("source")
        files = make_filestore(world.tmp / "source-fs")
        extra = ["--filestore", str(files)] if fmt == "zip" else []
        assert world.backup(source, "good", fmt, *extra).code == 0
        _GOOD_ARTIFACTS[fmt] = world.get("good")
    world.put("damaged", damage(_GOOD_ARTIFACTS[fmt], how))
    before = unchanged(world, target, filestore)

    extra = ["--filestore", str(filestore)] if fmt == "zip" else []
    result = world.restore(target, "damaged", fmt, *extra)
    assert result.code == 1
    assert expected in result.error_line
    assert unchanged(world, target, filestore) == before
    assert world.leftovers(filestore) == []


def test_the_wrong_kind_of_artifact_is_refused_before_anything_is_created(world: World) -> None:
    world.put("page.html", b"<!DOCTYPE html><html>Access Denied</html>")
    result = world.restore("new_one", "page.html", "zip")
    assert result.code == 1
    assert result.error_line == (
        f"error: s3://{world.bucket}/page.html is an HTML page, not what --format zip expects"
    )
    assert "new_one" not in world.databases()
    assert world.leftovers() == []

"""The real runner stopped at every step, with SIGKILL and with SIGTERM.

The runner runs as a process with the tests' hook on (`odoo_operator/runner/pausepoints.py`):
it holds at the named point, the test stops it there, then checks what users rely on.

- Restore: before the commit point the previous database (every object, row, sequence
  and owner, its connection setting: `World.fingerprint`) and filestore (bytes, modes,
  owners, times) are exactly as before; from it on, the restored ones are in place.
  After SIGTERM that holds at once, with nothing left over before the commit point; after
  SIGKILL once the next restore of the target has settled the leftovers (here a restore
  whose source is missing: it settles, then fails). In the end no temporary database,
  filestore, runner temporary file, or child process is left.
- Backup: nothing appears under the key. SIGTERM aborts the upload; after SIGKILL the next
  backup to the same key aborts the upload left pending.

zip passes every point and runs at each; sql and dump differ from it only in the load,
so they run there. A run without a stop passes them all.
"""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_operator.runner import pausepoints as points
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.process import pid_alive
from tests.leakcheck import descendants
from tests.runner.conftest import (
    ODOO_SCHEMA,
    Result,
    Running,
    World,
    make_filestore,
    owner_neutral,
    run_psql,
    tree_fingerprint,
    wait_for,
)

SIGNALS = [signal.SIGKILL, signal.SIGTERM]
STOPPED = "error: stopped by SIGTERM; nothing was changed"
RESTORE_CASES = [("zip", point) for point in points.RESTORE_POINTS] + [
    (fmt, points.LOADING)
    for fmt in ("sql", "dump")  # where they differ from zip
]
BACKUP_CASES = [("zip", point) for point in points.BACKUP_POINTS] + [
    (fmt, points.UPLOADING) for fmt in ("sql", "dump")
]


def events(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@dataclass
class Hook:
    """The pause hook's directory, and the runner's own TMPDIR, for one run."""

    directory: Path
    runner_tmp: Path

    @classmethod
    def under(cls, root: Path) -> Hook:
        hook = cls(root / "hook", root / "runner-tmp")
        hook.directory.mkdir()
        hook.runner_tmp.mkdir()
        return hook

    def env(self, world: World, point: str | None) -> dict[str, str]:
        extra = {points.PAUSE_DIR: str(self.directory), "TMPDIR": str(self.runner_tmp)}
        if point is not None:
            extra[points.PAUSE_AT] = point
        return world.job_env(**extra)

    def reached(self) -> set[str]:
        return {path.name.removesuffix(".reached") for path in self.directory.iterdir()}


def stop_at(running: Running, hook: Hook, point: str, signum: signal.Signals) -> Result:
    """Wait until the runner holds at `point`, send `signum`; its outcome once its
    children (psql, pg_restore, pg_dump) have exited too."""
    reached = hook.directory / f"{point}.reached"
    try:
        wait_for(lambda: reached.exists() or running.process.poll() is not None, f"point {point}")
        assert reached.exists(), f"the runner ended before {point}: {running.finish().stderr}"
        children = descendants(running.process.pid)
        running.process.send_signal(signum)
        result = running.finish()
    finally:
        running.stop()
    wait_for(lambda: not any(pid_alive(pid) for pid in children), "the runner's children")
    return result


# --- restore ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    data: bytes
    database: dict[str, str]  # fingerprint of the source, its owner written as OWNER
    files: dict[str, str]


_ARTIFACTS: dict[str, Artifact] = {}


def artifact(world: World, fmt: str) -> Artifact:
    """A backup made by the real runner, once per format (and xdist worker)."""
    if fmt not in _ARTIFACTS:
        source = world.create_odoo_database("source")
        files = make_filestore(world.tmp / "source-fs")
        extra = ["--filestore", str(files)] if fmt == "zip" else []
        made = world.backup(source, "made", fmt, *extra)
        assert made.code == 0, made.stderr
        fingerprint = owner_neutral(world.fingerprint(source, settings=False), world.role)
        _ARTIFACTS[fmt] = Artifact(world.get("made"), fingerprint, tree_fingerprint(files))
    return _ARTIFACTS[fmt]


@dataclass(frozen=True)
class Target:
    database: str
    filestore: Path

    def flags(self, fmt: str) -> list[str]:
        return ["--filestore", str(self.filestore)] if fmt == "zip" else []


@pytest.fixture
def target(world: World) -> Target:
    """A database in use, different from the backup, and its filestore."""
    database = world.create_odoo_database("live")
    world.role_sql(
        database,
        "CREATE TABLE only_here (id serial PRIMARY KEY, x text);"
        "INSERT INTO only_here (x) VALUES ('old'), ('data');"
        "SELECT setval('ir_module_module_id_seq', 99);",
    )
    return Target(database, make_filestore(world.tmp / "data" / "filestore" / database))


def state(world: World, target: Target) -> tuple[dict[str, str], dict[str, object]]:
    return world.fingerprint(target.database), tree_fingerprint(target.filestore, detailed=True)


def assert_restored(world: World, target: Target, fmt: str, restored: Artifact) -> None:
    database = world.fingerprint(target.database, settings=False)
    assert owner_neutral(database, world.role) == restored.database
    if fmt == "zip":
        assert tree_fingerprint(target.filestore) == restored.files


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize(("fmt", "point"), RESTORE_CASES)
def test_a_restore_stopped_at_any_step_loses_nothing(
    world: World, target: Target, fmt: str, point: str, signum: signal.Signals
) -> None:
    restored = artifact(world, fmt)
    world.put("backup", restored.data)
    before = state(world, target)
    hook = Hook.under(world.tmp)
    running = world.start_job(
        "restore", "--database", target.database, "--format", fmt,
        *world.s3_flags("backup"), *target.flags(fmt), env=hook.env(world, point),
    )  # fmt: skip
    result = stop_at(running, hook, point, signum)
    committed = points.RESTORE_POINTS.index(point) >= points.RESTORE_POINTS.index(points.COMMITTED)

    if signum == signal.SIGTERM and not committed:
        assert (result.code, result.error_line) == (1, STOPPED)
        assert state(world, target) == before
        assert world.leftovers(target.filestore) == []  # nothing for a next run to settle
        assert list(hook.runner_tmp.iterdir()) == []
        return
    if signum == signal.SIGTERM:
        assert result.code == 0, result.stderr  # the restore is in place: a success
    else:
        assert result.code == -signal.SIGKILL

    # The next restore of the target settles what is left; its source is missing, so it
    # then fails, and shows what the settling left.
    settled = world.restore(target.database, "missing", fmt, *target.flags(fmt))
    assert settled.code == 1
    assert "NoSuchKey" in settled.error_line
    if committed:
        assert_restored(world, target, fmt, restored)
    else:
        assert state(world, target) == before
    assert world.leftovers(target.filestore) == []
    assert world.pending_uploads() == []
    assert list(hook.runner_tmp.iterdir()) == []


@pytest.mark.parametrize("fmt", ["zip", "sql"])
def test_a_restore_that_is_not_stopped_passes_every_point(
    world: World, target: Target, fmt: str
) -> None:
    restored = artifact(world, fmt)
    world.put("backup", restored.data)
    hook = Hook.under(world.tmp)
    result = world.job(
        "restore", "--database", target.database, "--format", fmt,
        *world.s3_flags("backup"), *target.flags(fmt), env=hook.env(world, None),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    expected = set(points.RESTORE_POINTS)
    if fmt != "zip":
        expected -= set(points.FILESTORE_POINTS)
    assert hook.reached() == expected
    assert_restored(world, target, fmt, restored)


# --- backup -----------------------------------------------------------------------------


BULK_SQL = """
CREATE TABLE bulk (id integer PRIMARY KEY, data bytea);
INSERT INTO bulk SELECT i, decode(md5(i::text) || md5((-i)::text), 'hex')
FROM generate_series(1, 400000) i;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO PUBLIC;
"""


BULK_SQL = """
CREATE TABLE bulk (id integer PRIMARY KEY, data bytea);
INSERT INTO bulk SELECT i, decode(md5(i::text) || md5((-i)::text), 'hex')
FROM generate_series(1, 400000) i;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO PUBLIC;
"""


@pytest.fixture(scope="module")
def medium_database(postgres_server: PostgresServer) -> Iterator[str]:
    """An Odoo-like database whose dump spans a few S3 parts in every format, readable by
    every role."""
    name = f"medium_{secrets.token_hex(3)}"
    run_psql(postgres_server, "postgres", f"CREATE DATABASE {name}")
    run_psql(
        postgres_server,
        name,
        ODOO_SCHEMA + BULK_SQL,
    )
    yield name
    run_psql(postgres_server, "postgres", f"DROP DATABASE {name} WITH (FORCE)")


def backup_flags(world: World, fmt: str) -> list[str]:
    if fmt != "zip":
        return []
    return ["--filestore", str(make_filestore(world.tmp / "filestore"))]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize(("fmt", "point"), BACKUP_CASES)
def test_a_backup_stopped_at_any_step_leaves_nothing_under_the_key(
    world: World, medium_database: str, fmt: str, point: str, signum: signal.Signals
) -> None:
    hook = Hook.under(world.tmp)
    running = world.start_job(
        "backup", "--database", medium_database, "--format", fmt, *world.s3_flags("b"),
        *backup_flags(world, fmt), env=hook.env(world, point),
    )  # fmt: skip
    result = stop_at(running, hook, point, signum)

    assert world.keys() == []
    assert list(hook.runner_tmp.iterdir()) == []
    if signum == signal.SIGTERM:
        assert (result.code, result.error_line) == (1, STOPPED)
        assert "backup.aborted" in {e["event"] for e in events(result)}
        assert world.pending_uploads() == []
        return
    assert result.code == -signal.SIGKILL
    assert world.pending_uploads() == ["b"]  # a killed process cannot abort
    settled = world.backup("postgres", "b", "sql")
    assert settled.code == 0, settled.stderr
    recovered = [e for e in events(settled) if e["event"] == "backup.recovered"]
    assert [e["aborted_uploads"] for e in recovered] == [1]
    assert world.pending_uploads() == []
    assert world.keys() == ["b"]


def test_a_backup_that_is_not_stopped_passes_every_point(
    world: World, medium_database: str
) -> None:
    hook = Hook.under(world.tmp)
    result = world.job(
        "backup", "--database", medium_database, "--format", "zip", *world.s3_flags("b"),
        *backup_flags(world, "zip"), env=hook.env(world, None),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert hook.reached() == set(points.BACKUP_POINTS)
    assert world.keys() == ["b"]
    assert "backup.recovered" not in {e["event"] for e in events(result)}


def test_the_hook_is_inert_without_its_directory(world: World, medium_database: str) -> None:
    """ODOO_OPERATOR_PAUSE_AT alone does nothing: the hook needs its directory too."""
    env = world.job_env(**{points.PAUSE_AT: points.UPLOAD_STARTED})
    env.pop(points.PAUSE_DIR, None)
    result = world.job(
        "backup", "--database", medium_database, "--format", "sql", *world.s3_flags("b"), env=env
    )
    assert result.code == 0, result.stderr

"""`odoo-operator job verify` for real: backups made by the runner, verified by the runner,
on the session's PostgreSQL and S3.

A good backup verifies (every check passed); a backup whose object was corrupted in S3,
whose manifest disagrees with its database, or whose filestore lacks an attachment's file
does not, with a message saying why; a verification stopped at any step (SIGTERM) or
killed (SIGKILL, then settled by the next one) leaves no scratch database behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
import zipfile
from pathlib import Path
from typing import Any

import pytest

from odoo_operator.database_names import VERIFY_SCRATCH_PREFIX
from odoo_operator.runner import pausepoints as points
from tests.runner.conftest import Result, World
from tests.runner.test_interruptions import STOPPED, Hook, stop_at


def attachment_filestore(root: Path) -> Path:
    """The files ODOO_SCHEMA's 200 attachments reference (`ab/<md5(i)>`), and one more."""
    for index in range(1, 201):
        path = root / "ab" / hashlib.md5(str(index).encode(), usedforsecurity=False).hexdigest()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(index.to_bytes(2, "big") * 300)
    (root / "not-referenced.bin").write_bytes(b"kept anyway")
    return root


def scratch_databases(world: World) -> list[str]:
    return sorted(name for name in world.databases() if name.startswith(VERIFY_SCRATCH_PREFIX))


def verify(world: World, key: str, fmt: str = "zip", *extra: str) -> Result:
    return world.job("verify", "--database", "live", "--format", fmt, *world.s3_flags(key), *extra)


def outcome(result: Result) -> dict[str, Any]:
    """The result line: the one stdout line whose event is verify.result."""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    found = [line for line in lines if line.get("event") == "verify.result"]
    assert len(found) == 1, result.stdout
    return found[0]


@pytest.fixture
def good_backup(world: World) -> str:
    """A zip with filestore of an Odoo-like database, made by the real runner."""
    source = world.create_odoo_database("source")
    files = attachment_filestore(world.tmp / "filestore")
    made = world.backup(source, "good.zip", "zip", "--filestore", str(files))
    assert made.code == 0, made.stderr
    return "good.zip"


def test_a_good_backup_verifies_and_leaves_no_scratch_database(
    world: World, good_backup: str
) -> None:
    result_file = world.tmp / "termination-log"
    result = verify(world, good_backup, "zip", "--result-file", str(result_file))
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    found = outcome(result)
    assert found["verified"] is True
    assert found["checks"] == {"load": "passed", "manifest": "passed", "filestore": "passed"}
    assert (found["version"], found["modules"], found["files"]) == ("17.0", 3, 201)
    assert found["source"] == f"s3://{world.bucket}/{good_backup}"
    assert json.loads(result_file.read_text()) == found
    assert scratch_databases(world) == []
    assert "live" not in world.databases()  # --database only names the scratch database


def test_a_backup_corrupted_in_s3_fails_with_a_clear_message(
    world: World, good_backup: str
) -> None:
    data = bytearray(world.get(good_backup))
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    world.put("corrupted.zip", bytes(data))
    result = verify(world, "corrupted.zip")
    assert result.code == 1
    found = outcome(result)
    assert found["verified"] is False
    assert found["checks"] == {"load": "failed"}
    assert "CRC" in found["message"] or "corrupt" in found["message"], found["message"]
    assert result.error_line == f"error: {found['message']}"
    assert scratch_databases(world) == []


def rewrite_zip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The archive with entries replaced (bytes) or removed (None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename not in change:
                new.writestr(info, old.read(info.filename))
            elif change[info.filename] is not None:
                new.writestr(info, change[info.filename])
    return out.getvalue()


def test_a_manifest_that_disagrees_with_the_database_fails(world: World, good_backup: str) -> None:
    data = world.get(good_backup)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    manifest["modules"]["sale"] = "17.0.9.9"
    manifest["modules"]["stock"] = "17.0.1.0"
    world.put("manifest.zip", rewrite_zip(data, {"manifest.json": json.dumps(manifest).encode()}))
    result = verify(world, "manifest.zip")
    assert result.code == 1
    found = outcome(result)
    assert found["checks"]["manifest"] == "failed"
    assert found["checks"]["filestore"] == "passed"
    assert found["message"] == (
        "modules in the manifest but not installed: stock; module versions differ: sale"
    )
    assert scratch_databases(world) == []


def test_a_zip_whose_database_is_not_odoo_fails_the_manifest_check(
    world: World, good_backup: str
) -> None:
    """A zip that loads, but whose database has no installed base module to compare the
    manifest with: the manifest check fails, saying so (the load itself passed)."""
    plain = world.create_odoo_database("plain")
    world.role_sql(plain, "DELETE FROM ir_module_module WHERE name = 'base'")
    assert world.backup(plain, "plain.sql", "sql").code == 0
    world.put(
        "plain.zip", rewrite_zip(world.get(good_backup), {"dump.sql": world.get("plain.sql")})
    )
    result = verify(world, "plain.zip")
    assert result.code == 1
    found = outcome(result)
    assert found["checks"] == {"load": "passed", "manifest": "failed", "filestore": "passed"}
    assert "is not an initialized Odoo database" in found["message"]
    assert scratch_databases(world) == []


def test_a_filestore_missing_an_attachment_file_fails_naming_it(
    world: World, good_backup: str
) -> None:
    data = world.get(good_backup)
    lost = "ab/" + hashlib.md5(b"7", usedforsecurity=False).hexdigest()
    world.put("lost.zip", rewrite_zip(data, {f"filestore/{lost}": None}))
    result = verify(world, "lost.zip")
    assert result.code == 1
    found = outcome(result)
    assert found["checks"] == {"load": "passed", "manifest": "passed", "filestore": "failed"}
    assert found["message"] == f"1 attachment file(s) missing from the filestore: {lost}"


@pytest.mark.parametrize(("fmt", "extra"), [("sql", []), ("dump", []), ("zip", ["--no-filestore"])])
def test_what_a_backup_does_not_carry_is_skipped_and_said(
    world: World, fmt: str, extra: list[str]
) -> None:
    source = world.create_odoo_database("source")
    assert world.backup(source, "b", fmt, *extra).code == 0
    result = verify(world, "b", fmt)
    assert result.code == 0, result.stderr
    checks = outcome(result)["checks"]
    assert checks["load"] == "passed"
    assert checks["filestore"] == "skipped"
    assert checks["manifest"] == ("passed" if fmt == "zip" else "skipped")
    assert scratch_databases(world) == []


def test_the_wrong_format_is_refused_before_anything_is_made(
    world: World, good_backup: str
) -> None:
    result = verify(world, good_backup, "dump")
    assert result.code == 1
    assert "is a zip archive, not what --format dump expects" in result.error_line
    assert scratch_databases(world) == []


@pytest.mark.parametrize("point", points.VERIFY_POINTS)
def test_a_verification_stopped_at_any_step_leaves_nothing(
    world: World, good_backup: str, point: str
) -> None:
    hook = Hook.under(world.tmp)
    running = world.start_job(
        "verify", "--database", "live", "--format", "zip", *world.s3_flags(good_backup),
        env=hook.env(world, point),
    )  # fmt: skip
    result = stop_at(running, hook, point, signal.SIGTERM)
    assert (result.code, result.error_line) == (1, STOPPED)
    assert scratch_databases(world) == []
    assert list(hook.runner_tmp.iterdir()) == []


def test_a_killed_verification_is_settled_by_the_next(world: World, good_backup: str) -> None:
    hook = Hook.under(world.tmp)
    running = world.start_job(
        "verify", "--database", "live", "--format", "zip", *world.s3_flags(good_backup),
        env=hook.env(world, points.VERIFY_LOADED),
    )  # fmt: skip
    result = stop_at(running, hook, points.VERIFY_LOADED, signal.SIGKILL)
    assert result.code == -signal.SIGKILL
    assert len(scratch_databases(world)) == 1  # what SIGKILL leaves
    other = world.job(
        "verify", "--database", "other", "--format", "zip", *world.s3_flags(good_backup)
    )
    assert other.code == 0, other.stderr
    assert len(scratch_databases(world)) == 1  # another instance's leftovers are not its own
    settled = verify(world, good_backup)
    assert settled.code == 0, settled.stderr
    assert '"event": "verify.leftover_dropped"' in settled.stdout
    assert scratch_databases(world) == []

"""`odoo-operator job verify`: prove a backup restores, in a scratch database dropped after.

Guarantees:
- The artifact comes from the same sources as `job restore` (S3 or a live Odoo) and is
  checked to be the `--format` asked for; it loads with restore's own `load` (psql with
  ON_ERROR_STOP, pg_dump's completion line, every zip entry's CRC and the central
  directory), into a new database `odoo_verify_<h>_<id>` (h: 10 hex digits of
  sha256(--database), the instance database the backup belongs to, which is never touched).
- Then, for a zip: `manifest.json` must match the loaded database (the installed modules
  and their versions, and the Odoo series read from `base`), and every file an
  attachment references (`ir_attachment.store_fname`) must be in the archive's
  `filestore/` (skipped, and said so, when the backup holds no filestore). sql and dump
  backups carry no manifest or filestore: for them the load is the check.
- The scratch database and the unpacked filestore (under TMPDIR) are removed whatever
  happens, SIGTERM included; a run killed outright leaves a scratch database that the
  next verification for the same --database drops before it starts (and the instance's
  finalizer drops with the instance: `database_names.working_database_patterns`).
- The outcome is one JSON object (`VerifyResult.to_json`) printed as one stdout line
  with `"event": "verify.result"` and, with --result-file, written to that file (a Job
  sets /dev/termination-log, so the operator reads it from the pod's status); exit 0
  when verified, 1 when not (docs/backup-restore.md has the contract).
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from odoo_operator.database_names import (
    VERIFY_SCRATCH_PREFIX,
    restore_target_hash,
    verify_leftover_pattern,
)
from odoo_operator.runner import joblog, pausepoints
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.load import LoadReport, load
from odoo_operator.runner.manifest import read_manifest
from odoo_operator.runner.pgtools import (
    connect,
    connect_maintenance,
    find_tool,
    require_tools,
    server_version_num,
)
from odoo_operator.runner.restore import (
    FORMAT_NAMES,
    HeadFirst,
    RestoreRequest,
    detect_format,
    open_source,
    peek,
)
from odoo_operator.runner.swap import Admin

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
_SHOWN = 5  # differences named in a message; the rest are counted


@dataclass
class VerifyResult:
    """What `job verify` found; `verified` is true only when no check failed."""

    verified: bool
    source: str
    format: str
    checks: dict[str, str] = field(default_factory=dict)  # load, manifest, filestore
    message: str = ""
    version: str | None = None
    modules: int | None = None
    files: int | None = None
    seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps({"event": "verify.result", **asdict(self)}, sort_keys=True)


def scratch_database(target: str) -> str:
    return f"{VERIFY_SCRATCH_PREFIX}{restore_target_hash(target)}_{secrets.token_hex(4)}"


async def settle_leftovers(admin: Admin, target: str, log: Any) -> None:
    """Drop the scratch databases earlier verifications of `target` left (SIGKILL)."""
    rows = await admin.connection.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE $1", verify_leftover_pattern(target)
    )
    for row in rows:
        await admin.drop(row["datname"])
        log.warning("verify.leftover_dropped", database=row["datname"])


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def manifest_problem(manifest: dict[str, Any], database: dict[str, Any]) -> str | None:
    """How the backup's manifest disagrees with the database loaded from it, if it does."""
    problems = []
    if manifest.get("version") != database["version"]:
        problems.append(
            f"the manifest says Odoo {manifest.get('version')!r}, "
            f"the database's base module says {database['version']!r}"
        )
    listed = manifest.get("modules")
    if not isinstance(listed, dict):
        problems.append("the manifest lists no modules")
    else:
        loaded: dict[str, Any] = database["modules"]
        missing = sorted(set(listed) - set(loaded))
        extra = sorted(set(loaded) - set(listed))
        changed = sorted(m for m in set(listed) & set(loaded) if listed[m] != loaded[m])
        if missing:
            problems.append(f"modules in the manifest but not installed: {_listed(missing)}")
        if extra:
            problems.append(f"modules installed but not in the manifest: {_listed(extra)}")
        if changed:
            problems.append(f"module versions differ: {_listed(changed)}")
    return "; ".join(problems) or None


async def _referenced_files(connection: Any) -> list[str]:
    if not await connection.fetchval("SELECT to_regclass('ir_attachment') IS NOT NULL"):
        return []
    rows = await connection.fetch(
        "SELECT DISTINCT store_fname FROM ir_attachment "
        "WHERE store_fname IS NOT NULL AND store_fname <> '' ORDER BY 1"
    )
    return [row["store_fname"] for row in rows]


async def _check(
    result: VerifyResult, report: LoadReport, scratch: str, filestore: Path, server: int
) -> None:
    """Fill `result.checks` for a zip (manifest, filestore) from the loaded scratch database."""
    connection = await connect(scratch)
    try:
        if report.manifest is None:
            result.checks["manifest"] = FAILED
            result.message = "the zip archive has no manifest.json"
        else:
            try:
                loaded = json.loads(await read_manifest(connection, scratch, server))
            except JobError as error:  # no installed base: nothing to compare with
                result.checks["manifest"], result.message = FAILED, str(error)
            else:
                result.version, result.modules = loaded["version"], len(loaded["modules"])
                problem = manifest_problem(report.manifest, loaded)
                result.checks["manifest"] = FAILED if problem else PASSED
                result.message = problem or ""
        referenced = await _referenced_files(connection)
    finally:
        await connection.close()
    if not report.has_filestore:
        result.checks["filestore"] = SKIPPED
        return
    result.files = report.files
    missing = [name for name in referenced if not (filestore / name).is_file()]
    result.checks["filestore"] = FAILED if missing else PASSED
    if missing:
        note = f"{len(missing)} attachment file(s) missing from the filestore: {_listed(missing)}"
        result.message = f"{result.message}; {note}" if result.message else note


async def run_verify(request: RestoreRequest, log: Any) -> VerifyResult:
    """Load, check, drop; raises JobError when the backup cannot even be loaded."""
    tools = {"psql": find_tool("psql")}
    if request.format == "dump":
        tools["pg_restore"] = find_tool("pg_restore")
    started = time.monotonic()
    connection = await connect_maintenance()
    try:
        server = await server_version_num(connection)
        require_tools(list(tools.values()), server)
        admin = Admin(connection, server)
        await settle_leftovers(admin, request.database, log)
        with tempfile.TemporaryDirectory(prefix="odoo-verify-") as work:
            result = await _verify(
                admin,
                request,
                tools=tools,
                filestore=Path(work) / "filestore",
                server=server,
                log=log,
            )
    except asyncpg.PostgresError as error:
        raise JobError(f"PostgreSQL refused the verification: {error}") from None
    finally:
        await connection.close()
    result.seconds = round(time.monotonic() - started, 3)
    result.verified = FAILED not in result.checks.values()
    return result


async def _verify(
    admin: Admin,
    request: RestoreRequest,
    *,
    tools: dict[str, Any],
    filestore: Path,
    server: int,
    log: Any,
) -> VerifyResult:
    scratch = scratch_database(request.database)
    async with AsyncExitStack() as stack:
        source = await open_source(request, stack)
        head = await peek(source)
        found = detect_format(head)
        if found != request.format:
            raise JobError(
                f"{source.where} is {FORMAT_NAMES[found]}, "
                f"not what --format {request.format} expects"
            )
        await pausepoints.pause(pausepoints.DOWNLOADING)
        log.info("verify.start", source=source.where, format=request.format, scratch=scratch)
        result = VerifyResult(verified=False, source=source.where, format=request.format)
        progress = joblog.Progress(log, "download")
        progress.add(len(head))
        await admin.create(scratch)
        try:
            report = await load(
                backup_format=request.format,
                read=HeadFirst(head, source, progress).read,
                database=scratch,
                filestore=filestore if request.format == "zip" else None,
                tools=tools,
                log=log,
            )
            result.checks["load"] = PASSED
            await pausepoints.pause(pausepoints.VERIFY_LOADED)
            if request.format == "zip":
                await _check(result, report, scratch, filestore, server)
            else:
                result.checks["manifest"] = result.checks["filestore"] = SKIPPED
            await pausepoints.pause(pausepoints.VERIFY_CHECKED)
        finally:
            await admin.drop(scratch)
            shutil.rmtree(filestore, ignore_errors=True)
            log.info("verify.scratch_dropped", scratch=scratch)
    return result

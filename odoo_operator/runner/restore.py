"""`odoo-operator job restore`: artifact → new temporary database (+ filestore) → swap in.

Guarantees:
- The artifact streams from S3 or a live Odoo; what arrives is checked to be the
  `--format` asked for (zip, pg_dump custom format, plain SQL) before anything is created.
- It loads into a new temporary database through psql with ON_ERROR_STOP: the first
  error stops the load. Statements a non-superuser cannot run are filtered out
  (`sqlfilter`); a custom-format dump goes through `pg_restore --file=-` first, so the
  same filter applies.
- A load counts as successful only if psql (and pg_restore) exited 0, the SQL ended with
  pg_dump's completion line and, for a zip, every entry's CRC and the central directory
  checked out. Only then `swap.swap_in` puts it in place of the target.
- A zip's `filestore/` entries are unpacked next to the target filestore (created
  100:101 where permitted) and swapped in with the database. sql and dump restores, and
  zips that hold no filestore, leave the current filestore alone.
- On any failure, SIGTERM included, the previous database and filestore stay as they
  were and the temporary ones are removed; leftovers of an attempt that was killed
  outright are settled by the next restore of the same target (`swap.recover`).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from odoo_operator.runner import joblog, pausepoints
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.load import load
from odoo_operator.runner.odoo_source import OdooDownload
from odoo_operator.runner.pgtools import (
    ClientTool,
    connect_maintenance,
    find_tool,
    require_tools,
    server_version_num,
)
from odoo_operator.runner.s3 import S3Credentials, S3Download, S3Location, s3_client
from odoo_operator.runner.swap import Admin, RestorePlan, discard_attempt, recover, swap_in

CHUNK = 1 << 20
_HEAD = 512
FORMAT_NAMES = {
    "zip": "a zip archive",
    "dump": "a pg_dump custom-format archive",
    "sql": "a plain SQL dump",
    "html": "an HTML page",
    "gzip": "a gzip-compressed file",
    "empty": "empty",
    "unknown": "not a backup this runner knows",
}


@dataclass(frozen=True)
class OdooSource:
    url: str
    database: str
    password: str
    insecure: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    database: str
    format: str
    filestore: Path | None
    s3: S3Location | None = None
    odoo: OdooSource | None = None


class ByteSource(Protocol):
    size: int | None
    where: str

    async def open(self) -> None: ...
    async def read(self, size: int) -> bytes: ...
    async def close(self) -> None: ...


_MAGIC = (
    ((b"PK\x03\x04", b"PK\x05\x06"), "zip"),
    ((b"PGDMP",), "dump"),
    ((b"\x1f\x8b",), "gzip"),
)


def detect_format(head: bytes) -> str:
    """What the first bytes of an artifact say it is (a key of FORMAT_NAMES)."""
    if not head:
        return "empty"
    for prefixes, name in _MAGIC:
        if head.startswith(prefixes):
            return name
    if b"-- PostgreSQL database dump" in head[:_HEAD]:
        return "sql"
    return "html" if head.lstrip()[:1] == b"<" else "unknown"


class HeadFirst:
    """An async byte source that replays the bytes already peeked."""

    def __init__(self, head: bytes, source: ByteSource, progress: joblog.Progress) -> None:
        self._head = head
        self._source = source
        self._progress = progress

    async def read(self, size: int) -> bytes:
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        data = await self._source.read(size)
        self._progress.add(len(data))
        return data


async def peek(source: ByteSource) -> bytes:
    head = b""
    while len(head) < _HEAD:
        data = await source.read(_HEAD - len(head))
        if not data:
            break
        head += data
    return head


async def open_source(request: RestoreRequest, stack: AsyncExitStack) -> ByteSource:
    if request.s3 is not None:
        client = await stack.enter_async_context(
            s3_client(request.s3, S3Credentials.from_environment())
        )
        download: ByteSource = S3Download(client, request.s3)
    else:
        assert request.odoo is not None
        odoo = request.odoo
        download = OdooDownload(
            odoo.url, odoo.database, request.format, odoo.password, odoo.insecure
        )
    stack.push_async_callback(download.close)
    await download.open()
    return download


async def run_restore(request: RestoreRequest, log: Any) -> None:
    tools = {"psql": find_tool("psql")}
    if request.format == "dump":
        tools["pg_restore"] = find_tool("pg_restore")
    connection = await connect_maintenance()
    try:
        server = await server_version_num(connection)
        require_tools(list(tools.values()), server)
        admin = Admin(connection, server)
        await recover(admin, request.database, request.filestore, log)
        plan = RestorePlan(request.database, request.filestore, secrets.token_hex(4))
        await _restore(admin, request, plan, tools, log)
    except asyncpg.PostgresError as error:
        raise JobError(f"PostgreSQL refused the restore of {request.database!r}: {error}") from None
    finally:
        await connection.close()


async def _restore(
    admin: Admin,
    request: RestoreRequest,
    plan: RestorePlan,
    tools: dict[str, ClientTool],
    log: Any,
) -> None:
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        source = await open_source(request, stack)
        where = source.where
        head = await peek(source)
        found = detect_format(head)
        if found != request.format:
            raise JobError(
                f"{where} is {FORMAT_NAMES[found]}, not what --format {request.format} expects"
            )
        await pausepoints.pause(pausepoints.DOWNLOADING)
        log.info(
            "restore.start",
            database=request.database,
            format=request.format,
            source=where,
            size=source.size,
            temporary_database=plan.temporary_database,
        )
        try:
            await admin.create(plan.temporary_database)
        except asyncpg.InsufficientPrivilegeError as error:
            raise JobError(
                f"cannot create the temporary database: {error} (the role needs CREATEDB)"
            ) from None
        except asyncpg.PostgresError as error:
            raise JobError(f"cannot create the temporary database: {error}") from None
        progress = joblog.Progress(log, "download")
        progress.add(len(head))
        try:
            report = await load(
                backup_format=request.format,
                read=HeadFirst(head, source, progress).read,
                database=plan.temporary_database,
                filestore=plan.temporary_filestore if plan.filestore else None,
                tools=tools,
                log=log,
            )
            log.info(
                "restore.loaded",
                **progress.figures(),
                statements=report.statements,
                filtered=report.filtered,
                files=report.files,
                file_bytes=report.file_bytes,
                skipped_entries=report.skipped_entries,
                manifest_version=(report.manifest or {}).get("version"),
            )
            if not report.has_filestore:  # nothing to put in place of the current one
                plan = dataclasses.replace(plan, filestore=None)
            await pausepoints.pause(pausepoints.LOADED)
            await swap_in(admin, plan, log)
        except BaseException:
            await discard_attempt(admin, plan, log)
            raise
    seconds = time.monotonic() - started
    log.info(
        "restore.done",
        database=request.database,
        bytes=progress.bytes,
        seconds=round(seconds, 3),
        mib_per_second=joblog.rate(progress.bytes, seconds),
    )

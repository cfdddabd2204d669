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

import asyncio
import contextlib
import dataclasses
import functools
import io
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import asyncpg

from odoo_operator.jobs import joblog
from odoo_operator.jobs.bridge import BlockingReader, WorkerThread
from odoo_operator.jobs.errors import JobError
from odoo_operator.jobs.filestore import FilestoreWriter
from odoo_operator.jobs.odoo_source import OdooDownload
from odoo_operator.jobs.pgtools import (
    ClientTool,
    connect_maintenance,
    find_tool,
    first_error_line,
    require_tools,
    server_version_num,
    tool_environment,
)
from odoo_operator.jobs.s3 import S3Credentials, S3Download, S3Location, s3_client
from odoo_operator.jobs.sqlfilter import SqlFilter
from odoo_operator.jobs.swap import Admin, RestorePlan, discard_attempt, recover, swap_in
from odoo_operator.jobs.zipreader import Readable, ZipStreamReader

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


class _HeadFirst:
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


async def _peek(source: ByteSource) -> bytes:
    head = b""
    while len(head) < _HEAD:
        data = await source.read(_HEAD - len(head))
        if not data:
            break
        head += data
    return head


@dataclass
class LoadReport:
    filtered: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    files: int = 0
    file_bytes: int = 0
    skipped_entries: int = 0
    has_filestore: bool = False
    manifest: dict[str, Any] | None = None


class _Pipe:
    """Writes into a child's stdin; a child that went away surfaces as `PipeClosed`."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except (BrokenPipeError, ValueError):
            raise PipeClosed from None

    def close(self) -> None:
        try:
            self._stream.close()
        except BrokenPipeError:
            raise PipeClosed from None


class PipeClosed(Exception):
    """A child process stopped reading; its own error explains why."""


def _filter_sql(read: Callable[[int], bytes], psql: _Pipe, report: LoadReport) -> None:
    sql = SqlFilter(psql.write)
    while data := read(CHUNK):
        sql.feed(data)
    sql.close()
    psql.close()
    report.statements = sql.statements
    report.filtered = dict(sql.dropped)
    if not sql.complete:
        raise JobError(
            "the SQL dump does not end with pg_dump's completion line: the artifact is truncated"
        )


def _load_zip(
    reader: Readable,
    psql: _Pipe,
    filestore: Path | None,
    report: LoadReport,
    note: Callable[[str], None],
) -> None:
    archive = ZipStreamReader(reader)
    files: FilestoreWriter | None = None  # made at the first filestore entry
    seen_dump = False
    for entry in archive.entries():
        if entry.name == "dump.sql":
            if seen_dump:
                raise JobError("the zip archive holds dump.sql twice")
            seen_dump = True
            _filter_sql(_chunk_reader(entry.chunks()), psql, report)
        elif entry.name.startswith("filestore/") and filestore is not None:
            files = files or FilestoreWriter(filestore, note)
            relative = entry.name[len("filestore/") :]
            if not relative:
                _drain(entry.chunks())
            elif relative.endswith("/"):
                files.add_directory(relative)
                _drain(entry.chunks())
            else:
                files.add_file(relative, entry.chunks())
        elif entry.name == "manifest.json":
            report.manifest = _manifest(b"".join(entry.chunks()), note)
        else:
            report.skipped_entries += 1
            _drain(entry.chunks())
    archive.finish()
    if not seen_dump:
        raise JobError("the zip archive has no dump.sql: it is not an Odoo backup")
    if files is not None:
        report.has_filestore = True
        report.files, report.file_bytes = files.files, files.bytes
    elif filestore is not None:
        note("the archive holds no filestore; the current filestore is kept")


def _chunk_reader(chunks: Iterator[bytes]) -> Callable[[int], bytes]:
    """A read(size) over an iterator of chunks (each read returns the next chunk)."""
    return lambda _size: next(chunks, b"")


def _drain(chunks: Any) -> None:
    for _ in chunks:
        pass


def _manifest(data: bytes, note: Callable[[str], None]) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except ValueError:
        note("manifest.json is not valid JSON; ignored (Odoo does not need it either)")
        return None
    return manifest if isinstance(manifest, dict) else None


def _copy(read: Callable[[int], bytes], child: _Pipe) -> None:
    while data := read(CHUNK):
        child.write(data)
    child.close()


class _Children:
    """The client tools of one load, upstream first, with their stderr kept aside."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, tool: ClientTool, arguments: list[str], database: str, **pipes: Any) -> Any:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        process = subprocess.Popen(
            [tool.path, *arguments],
            stderr=stderr,
            env=tool_environment(database),
            **pipes,
        )
        self.processes.append((tool.name, process, stderr))
        return process

    async def failure(self) -> JobError | None:
        """Wait for all; the first that failed on its own (exit > 0) explains itself."""
        for name, process, stderr in self.processes:
            code = await asyncio.to_thread(process.wait)
            if code > 0:
                stderr.seek(0)
                line = first_error_line(stderr.read()[-(64 << 10) :], f"exit status {code}")
                return JobError(f"loading the backup failed in {name}: {line}")
        return None

    def kill(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.kill()

    def close(self) -> None:
        for _, process, stderr in self.processes:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            stderr.close()


def _stages(
    *,
    request: RestoreRequest,
    plan: RestorePlan,
    reader: io.BufferedIOBase,
    pg_restore: subprocess.Popen[bytes] | None,
    to_psql: _Pipe,
    report: LoadReport,
    log: Any,
) -> list[tuple[str, Callable[[], None]]]:
    """The worker threads of a load: what each reads and where it writes."""

    def note(message: str) -> None:
        log.warning("restore.note", message=message)

    if pg_restore is not None:
        assert pg_restore.stdin is not None
        assert pg_restore.stdout is not None
        to_restore = _Pipe(pg_restore.stdin)
        from_restore = functools.partial(os.read, pg_restore.stdout.fileno())
        return [
            ("restore-feed", lambda: _copy(reader.read, to_restore)),
            ("restore-load", lambda: _filter_sql(from_restore, to_psql, report)),
        ]
    if request.format == "zip":
        filestore = plan.temporary_filestore if plan.filestore is not None else None
        return [("restore-load", lambda: _load_zip(reader, to_psql, filestore, report, note))]
    return [("restore-load", lambda: _filter_sql(reader.read, to_psql, report))]


async def _load(
    request: RestoreRequest,
    plan: RestorePlan,
    source: _HeadFirst,
    tools: dict[str, ClientTool],
    log: Any,
) -> LoadReport:
    loop = asyncio.get_running_loop()
    raw = BlockingReader(loop, source.read)
    reader = io.BufferedReader(raw, CHUNK)
    report = LoadReport()
    children = _Children()
    database = plan.temporary_database
    pg_restore = None
    if request.format == "dump":
        pg_restore = children.start(
            tools["pg_restore"],
            ["--no-owner", "--no-privileges", "--file=-"],
            database,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
    psql = children.start(
        tools["psql"],
        ["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1"],
        database,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    jobs = _stages(
        request=request,
        plan=plan,
        reader=reader,
        pg_restore=pg_restore,
        to_psql=_Pipe(psql.stdin),
        report=report,
        log=log,
    )
    workers = [WorkerThread(name, job) for name, job in jobs]
    try:
        pending = {asyncio.ensure_future(worker.finished()) for worker in workers}
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(task.result() is not None for task in done):
                children.kill()  # a failed stage: unblock the others
                raw.cancel()
        errors = [await worker.finished() for worker in workers]
        tool_failure = await children.failure()
        if tool_failure is not None:
            raise tool_failure
        for error in errors:
            if isinstance(error, JobError):
                raise error
        if any(errors):
            raise JobError(f"loading the backup failed: {next(e for e in errors if e)!r}")
    except BaseException:
        raw.cancel()
        children.kill()
        for worker in workers:
            await worker.finished()
        raise
    finally:
        children.close()
    return report


async def _open_source(request: RestoreRequest, stack: AsyncExitStack) -> ByteSource:
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
        source = await _open_source(request, stack)
        where = source.where
        head = await _peek(source)
        found = detect_format(head)
        if found != request.format:
            raise JobError(
                f"{where} is {FORMAT_NAMES[found]}, not what --format {request.format} expects"
            )
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
            report = await _load(request, plan, _HeadFirst(head, source, progress), tools, log)
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

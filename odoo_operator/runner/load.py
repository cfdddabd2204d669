"""Load an artifact into a database through psql, checking everything on the way.

Guarantees:
- The load goes through `psql --set=ON_ERROR_STOP=1`: the first SQL error stops it. A
  custom-format dump is turned into SQL by `pg_restore --no-owner --no-privileges
  --file=-` first, so every format passes the same filter (`sqlfilter`).
- It counts as successful only if every client tool exited 0, the SQL ended with
  pg_dump's completion line and, for a zip, every entry's CRC and the central directory
  checked out (`zipreader`); otherwise `load` raises a `JobError` that names the first
  cause: a tool's own error line first (it explains a closed pipe best), then ours.
- Byte work runs in worker threads (one per stage); a failed stage stops the others
  (their tools are killed, their reads cancelled) so nothing hangs.
- A zip's `filestore/` entries are written, as they arrive, into a new directory
  (`filestore.FilestoreWriter`), created at the first such entry only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from odoo_operator.runner import pausepoints
from odoo_operator.runner.bridge import BlockingReader, WorkerThread
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.filestore import FilestoreWriter
from odoo_operator.runner.pgtools import ClientTool, first_error_line, tool_environment
from odoo_operator.runner.sqlfilter import SqlFilter
from odoo_operator.runner.zipreader import Readable, ZipStreamReader

CHUNK = 1 << 20
Hold = Callable[[str], None]  # a worker thread's way to `pausepoints.pause_in_worker`


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


def _filter_sql(read: Callable[[int], bytes], psql: _Pipe, report: LoadReport, hold: Hold) -> None:
    sql = SqlFilter(psql.write)
    for number, data in enumerate(iter(lambda: read(CHUNK), b"")):
        sql.feed(data)
        if number == 0:
            hold(pausepoints.LOADING)
    sql.close()
    psql.close()
    report.statements = sql.statements
    report.filtered = dict(sql.dropped)
    if not sql.complete:
        raise JobError(
            "the SQL dump does not end with pg_dump's completion line: the artifact is truncated"
        )


def _unpack(files: FilestoreWriter, relative: str, chunks: Iterator[bytes], hold: Hold) -> None:
    if relative.endswith("/"):
        files.add_directory(relative)
        _drain(chunks)
    else:
        files.add_file(relative, chunks)
        if files.files == 1:
            hold(pausepoints.UNPACKING_FILESTORE)


def _load_zip(
    reader: Readable,
    psql: _Pipe,
    filestore: Path | None,
    report: LoadReport,
    *,
    note: Callable[[str], None],
    hold: Hold,
) -> None:
    archive = ZipStreamReader(reader)
    files: FilestoreWriter | None = None  # made at the first filestore entry
    seen_dump = False
    for entry in archive.entries():
        if entry.name == "dump.sql":
            if seen_dump:
                raise JobError("the zip archive holds dump.sql twice")
            seen_dump = True
            _filter_sql(_chunk_reader(entry.chunks()), psql, report, hold)
        elif entry.name.startswith("filestore/") and filestore is not None:
            files = files or FilestoreWriter(filestore, note)
            relative = entry.name[len("filestore/") :]
            if not relative:
                _drain(entry.chunks())
            else:
                _unpack(files, relative, entry.chunks(), hold)
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
    backup_format: str,
    filestore: Path | None,
    raw: BlockingReader,
    reader: io.BufferedIOBase,
    pg_restore: subprocess.Popen[bytes] | None,
    to_psql: _Pipe,
    report: LoadReport,
    log: Any,
) -> list[tuple[str, Callable[[], None]]]:
    """The worker threads of a load: what each reads and where it writes."""

    def note(message: str) -> None:
        log.warning("restore.note", message=message)

    def hold(point: str) -> None:
        pausepoints.pause_in_worker(point, raw.run)

    if pg_restore is not None:
        assert pg_restore.stdin is not None
        assert pg_restore.stdout is not None
        to_restore = _Pipe(pg_restore.stdin)
        from_restore = functools.partial(os.read, pg_restore.stdout.fileno())
        return [
            ("restore-feed", lambda: _copy(reader.read, to_restore)),
            ("restore-load", lambda: _filter_sql(from_restore, to_psql, report, hold)),
        ]
    if backup_format == "zip":
        return [
            (
                "restore-load",
                lambda: _load_zip(reader, to_psql, filestore, report, note=note, hold=hold),
            )
        ]
    return [("restore-load", lambda: _filter_sql(reader.read, to_psql, report, hold))]


async def load(
    *,
    backup_format: str,
    read: Callable[[int], Awaitable[bytes]],
    database: str,
    filestore: Path | None,
    tools: dict[str, ClientTool],
    log: Any,
) -> LoadReport:
    """Load the artifact that `read` streams into `database` (and a zip's filestore into
    the new directory `filestore`); raises JobError unless every check passed."""
    loop = asyncio.get_running_loop()
    raw = BlockingReader(loop, read)
    reader = io.BufferedReader(raw, CHUNK)
    report = LoadReport()
    children = _Children()
    pg_restore = None
    if backup_format == "dump":
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
        backup_format=backup_format,
        filestore=filestore,
        raw=raw,
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

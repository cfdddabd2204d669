"""`odoo-operator job backup`: pg_dump → artifact → S3 multipart upload, as one stream.

Guarantees:
- Formats: `zip` is Odoo's layout (`dump.sql` from `pg_dump --no-owner`, `manifest.json`,
  `filestore/<files>`), restorable by Odoo's database manager; `sql` is that plain dump
  alone; `dump` is `pg_dump --format=custom`, compressed at the fastest level. Filestore
  files that deflate would not shrink (by their name, or a deflated probe of their first
  bytes) are stored as they are.
- The artifact is uploaded part by part while pg_dump runs: nothing is staged on disk and
  memory is bounded by `s3.PARTS_IN_FLIGHT + 1` parts (`s3.part_size`), whatever the
  database size.
- The upload is completed only after pg_dump exited 0 and the artifact was fully written.
  On any failure, SIGTERM included, pg_dump is stopped and the multipart upload aborted:
  no object, and no partial object, appears under the key.
- A backup killed outright (SIGKILL, a lost node) cannot abort its upload; the next
  backup to the same key aborts the uploads pending under it before it starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

import asyncpg

from odoo_operator.runner import joblog, pausepoints
from odoo_operator.runner.bridge import PartSink, WorkerThread
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.filestore import FilestoreFile, open_for_backup, walk
from odoo_operator.runner.manifest import read_manifest
from odoo_operator.runner.pgtools import (
    ClientTool,
    connect,
    find_tool,
    first_error_line,
    require_tools,
    server_version_num,
    tool_environment,
)
from odoo_operator.runner.s3 import (
    PARTS_IN_FLIGHT,
    MultipartUpload,
    S3Credentials,
    S3Location,
    abort_pending_uploads,
    part_size,
    s3_client,
)
from odoo_operator.runner.zipwriter import ZipStreamWriter

CHUNK = 1 << 20
ZIP_COMPRESSION_LEVEL = 1  # fastest deflate: about 2x smaller dumps at 3x the speed of level 6
# pg_dump's default for the custom format is 6: 2.4x the CPU of level 1 for a dump a few
# per cent smaller (docs/performance.md), while the backup holds its snapshot open.
DUMP_COMPRESSION_LEVEL = 1
PROBE_BYTES = 16 << 10  # deflated to tell whether a filestore file is worth deflating
PROBE_MINIMUM = 1 << 10  # smaller files are deflated without asking
PROBE_RATIO = 0.9  # deflate must save a tenth of the probe, or the file is stored
COMPRESSED_SUFFIXES = frozenset(
    {
        ".7z",
        ".avif",
        ".bz2",
        ".docx",
        ".gif",
        ".gz",
        ".heic",
        ".jpeg",
        ".jpg",
        ".mov",
        ".mp3",
        ".mp4",
        ".odp",
        ".ods",
        ".odt",
        ".ogg",
        ".png",
        ".pptx",
        ".rar",
        ".webm",
        ".webp",
        ".xlsx",
        ".xz",
        ".zip",
        ".zst",
    }
)
PIPE_SIZE = 1 << 20
FORMATS = ("zip", "sql", "dump")


@dataclass(frozen=True)
class BackupRequest:
    database: str
    format: str
    filestore: Path | None
    location: S3Location


@dataclass
class BackupReport:
    dump_bytes: int = 0
    files: int = 0
    file_bytes: int = 0
    vanished_files: int = 0


def pg_dump_arguments(backup_format: str) -> list[str]:
    """The database comes from PGDATABASE (see pgtools), never from the command line."""
    arguments = ["--no-owner", "--no-password"]
    if backup_format == "dump":
        return [*arguments, "--format=custom", f"--compress={DUMP_COMPRESSION_LEVEL}"]
    return [*arguments, "--format=plain"]


def _widen_pipe(stream: IO[bytes]) -> None:
    """Fewer, larger reads from pg_dump; the kernel may refuse, which is fine."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _read_chunks(stream: IO[bytes], report: BackupReport) -> Any:
    while data := stream.read(CHUNK):
        report.dump_bytes += len(data)
        yield data


def _pg_dump_outcome(process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    code = process.wait()
    if code != 0:
        stderr.seek(0)
        line = first_error_line(stderr.read()[-(64 << 10) :], f"exit status {code}")
        raise JobError(f"pg_dump failed: {line}")


def worth_deflating(relative: str, head: bytes) -> bool:
    """Whether deflate is likely to shrink a file, from its name and its first bytes.

    Images, archives and most office files are compressed already: deflating them again
    costs CPU for nothing. Odoo names filestore files by their checksum, without an
    extension, so the first `PROBE_BYTES` are deflated as a probe.
    """
    if PurePosixPath(relative).suffix.lower() in COMPRESSED_SUFFIXES:
        return False
    if len(head) < PROBE_MINIMUM:
        return True
    return len(zlib.compress(head, ZIP_COMPRESSION_LEVEL)) < len(head) * PROBE_RATIO


def _add_file(archive: ZipStreamWriter, file: FilestoreFile, handle: BinaryIO) -> int:
    """One filestore file into the archive, deflated or stored; its size."""
    name = f"filestore/{file.relative}"
    head = handle.read(PROBE_BYTES)
    if worth_deflating(file.relative, head):
        with archive.entry(name, file.mtime, file.mode) as entry:
            entry.write(head)
            while data := handle.read(CHUNK):
                entry.write(data)
        return entry.size
    crc, size = zlib.crc32(head), len(head)  # a stored entry's header carries both
    while data := handle.read(CHUNK):
        crc, size = zlib.crc32(data, crc), size + len(data)
    handle.seek(0)
    try:
        chunks = iter(lambda: handle.read(CHUNK), b"")
        archive.add_stored(name, chunks, crc=crc, size=size, mtime=file.mtime, mode=file.mode)
    except ValueError:
        raise JobError(f"filestore file {file.path} changed while it was being read") from None
    return size


def _add_filestore(
    archive: ZipStreamWriter, root: Path, report: BackupReport, sink: PartSink
) -> None:
    for file in walk(root):
        handle = open_for_backup(file)
        if handle is None:
            report.vanished_files += 1
            continue
        with handle:
            report.file_bytes += _add_file(archive, file, handle)
        report.files += 1
        if report.files == 1:
            pausepoints.pause_in_worker(pausepoints.ADDING_FILESTORE, sink.run)


def produce(
    *,
    request: BackupRequest,
    process: subprocess.Popen[bytes],
    stderr: IO[bytes],
    sink: PartSink,
    manifest: bytes | None,
    progress: joblog.Progress,
) -> BackupReport:
    """Worker thread: write the whole artifact into `sink`, then flush it."""
    report = BackupReport()
    assert process.stdout is not None

    def write(data: bytes) -> None:
        sink.write(data)
        progress.add(len(data))

    if request.format == "zip":
        assert manifest is not None
        archive = ZipStreamWriter(write, ZIP_COMPRESSION_LEVEL)
        try:
            with archive.entry("dump.sql") as entry:
                for data in _read_chunks(process.stdout, report):
                    entry.write(data)
                _pg_dump_outcome(process, stderr)
            with archive.entry("manifest.json") as entry:
                entry.write(manifest)
            if request.filestore is not None:
                _add_filestore(archive, request.filestore, report, sink)
            archive.close()
        finally:
            archive.discard()
    else:
        for data in _read_chunks(process.stdout, report):
            write(data)
        _pg_dump_outcome(process, stderr)
    sink.close()
    return report


async def _prepare(request: BackupRequest, pg_dump: ClientTool) -> tuple[int, bytes | None]:
    connection = await connect(request.database)
    try:
        server = await server_version_num(connection)
        require_tools([pg_dump], server)
        manifest = None
        if request.format == "zip":
            manifest = await read_manifest(connection, request.database, server)
        return server, manifest
    except asyncpg.PostgresError as error:
        raise JobError(f"cannot read database {request.database!r}: {error}") from None
    finally:
        await connection.close()


def _start_pg_dump(
    pg_dump: ClientTool, request: BackupRequest, stderr: IO[bytes]
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [pg_dump.path, *pg_dump_arguments(request.format)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=tool_environment(request.database),
    )
    assert process.stdout is not None
    _widen_pipe(process.stdout)
    return process


async def _stream(
    request: BackupRequest,
    pg_dump: ClientTool,
    upload: MultipartUpload,
    manifest: bytes | None,
    progress: joblog.Progress,
) -> BackupReport:
    sink = PartSink(asyncio.get_running_loop(), upload.put_part, part_size, PARTS_IN_FLIGHT)
    with tempfile.TemporaryFile() as stderr:
        process = _start_pg_dump(pg_dump, request, stderr)
        assert process.stdout is not None
        try:
            worker = WorkerThread(
                "backup",
                lambda: produce(
                    request=request,
                    process=process,
                    stderr=stderr,
                    sink=sink,
                    manifest=manifest,
                    progress=progress,
                ),
            )
            try:
                return await worker.join()
            except BaseException:
                sink.cancel()
                if process.poll() is None:
                    process.kill()
                await worker.finished()
                raise
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()


async def _abort_interrupted(client: Any, location: S3Location, log: Any) -> None:
    """Abort the uploads to this key that a backup killed outright left pending."""
    try:
        aborted = await abort_pending_uploads(client, location)
    except JobError as error:  # e.g. not allowed to list uploads: the lifecycle rule's job
        log.warning("backup.pending_uploads_unchecked", error=str(error))
        return
    if aborted:
        log.warning("backup.recovered", destination=str(location), aborted_uploads=aborted)


async def run_backup(request: BackupRequest, credentials: S3Credentials, log: Any) -> None:
    pg_dump = find_tool("pg_dump")
    server, manifest = await _prepare(request, pg_dump)
    log.info(
        "backup.start",
        database=request.database,
        format=request.format,
        destination=str(request.location),
        filestore=str(request.filestore) if request.filestore else None,
        server_version_num=server,
        pg_dump_version_num=pg_dump.version_num,
    )
    started = time.monotonic()
    progress = joblog.Progress(log, "upload")
    async with s3_client(request.location, credentials) as client:
        await _abort_interrupted(client, request.location, log)
        upload = MultipartUpload(client, request.location)
        await upload.start()
        try:
            await pausepoints.pause(pausepoints.UPLOAD_STARTED)
            report = await _stream(request, pg_dump, upload, manifest, progress)
            await pausepoints.pause(pausepoints.UPLOADED)
            await upload.complete()
        except BaseException:
            try:
                await upload.abort()
                log.info("backup.aborted", destination=str(request.location))
            except JobError as error:
                log.error("backup.abort_failed", upload_id=upload.upload_id, error=str(error))
            raise
    seconds = time.monotonic() - started
    log.info(
        "backup.done",
        database=request.database,
        format=request.format,
        destination=str(request.location),
        bytes=upload.bytes,
        parts=upload.parts,
        dump_bytes=report.dump_bytes,
        files=report.files,
        file_bytes=report.file_bytes,
        vanished_files=report.vanished_files,
        seconds=round(seconds, 3),
        mib_per_second=joblog.rate(upload.bytes, seconds),
    )

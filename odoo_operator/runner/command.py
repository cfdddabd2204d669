"""`odoo-operator job backup|restore|verify`: flags and environment in, one exit status out.

Guarantees:
- Exit 0 only when the whole job succeeded. Otherwise exit 1 (the job failed) or 2 (bad
  flags), with exactly one line on stderr (`error: ...`), credentials redacted.
- SIGTERM and SIGINT stop the job the way a failure does: the backup upload is aborted,
  the restore leaves the previous database and filestore in place.
- Credentials come from the environment only (PGPASSWORD, AWS_SECRET_ACCESS_KEY,
  ODOO_MASTER_PASSWORD); no flag takes a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

import click

from odoo_operator import database_names
from odoo_operator.runner import joblog
from odoo_operator.runner.backup import BackupRequest, run_backup
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.filestore import ensure_filestore_root
from odoo_operator.runner.odoo_source import check_url
from odoo_operator.runner.pgtools import check_database_name
from odoo_operator.runner.restore import OdooSource, RestoreRequest, run_restore
from odoo_operator.runner.s3 import DEFAULT_REGION, S3Credentials, S3Location
from odoo_operator.runner.verify import VerifyResult, run_verify

FORMATS = ("zip", "sql", "dump")
EXIT_FAILED = 1
EXIT_USAGE = 2
MAX_KEY_BYTES = 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


class _OneLineCommand(click.Command):
    """Usage errors as one `error: ...` line on stderr (exit 2), not click's usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            _fail(error.format_message(), EXIT_USAGE)


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    redact = joblog.Redactor.from_environment()
    click.echo(redact(f"error: {' '.join(message.split())}"), err=True)
    sys.exit(code)


def _s3_location(
    endpoint: str | None, bucket: str | None, key: str | None, region: str, insecure: bool
) -> S3Location:
    if not bucket:
        raise JobError("--bucket is required")
    if not key:
        raise JobError("--key is required")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise JobError(f"--key is longer than {MAX_KEY_BYTES} bytes")
    if endpoint is not None:
        check_url(endpoint, "--endpoint")
    return S3Location(bucket=bucket, key=key, endpoint=endpoint, region=region, insecure=insecure)


def _return_memory_promptly() -> None:
    """Keep glibc from holding on to freed upload parts.

    glibc raises its mmap threshold after a large block is freed, so later parts come from
    the heap and stay counted in RSS after they are released; a fixed 4 MiB threshold
    hands every part (8 MiB or more) back to the kernel when it is freed, while the
    1 MiB chunks read, hashed and sent all along reuse heap memory instead of being
    mapped, faulted in and unmapped each time (which cost more CPU than the copies).
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 4 << 20)


def _run(job: Callable[[Any], Coroutine[Any, Any, None]], log_format: str, what: str) -> None:
    """Run one job coroutine with signal handling; map its outcome to the exit status."""
    _return_memory_promptly()
    redactor = joblog.Redactor.from_environment()
    joblog.configure(redactor, log_format)
    log = joblog.logger(job=what)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stopping: list[str] = []

        def stop(signum: int) -> None:
            if not stopping:  # a second signal must not interrupt the cleanup
                stopping.append(signal.Signals(signum).name)
                task.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        try:
            await job(log)
        except asyncio.CancelledError:
            if stopping:
                raise JobError(f"stopped by {stopping[0]}; nothing was changed") from None
            raise

    try:
        asyncio.run(main())
    except JobError as error:
        log.error(f"{what}.failed", error=str(error))
        _fail(str(error))
    except Exception as error:
        log.error(f"{what}.crashed", error=repr(error), traceback=traceback.format_exc())
        _fail(f"unexpected {type(error).__name__}: {error}")
    log.info(f"{what}.succeeded")


_log_format = click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Format of the log lines on stdout.",
)
_format = click.option(
    "--format",
    "backup_format",
    type=click.Choice(FORMATS),
    default="zip",
    show_default=True,
    help="zip: Odoo's layout (dump.sql, manifest.json, filestore/); sql: plain pg_dump; "
    "dump: pg_dump custom format.",
)
_endpoint = click.option(
    "--endpoint", help="S3 endpoint URL (http:// or https://); AWS S3 when omitted."
)
_bucket = click.option("--bucket", help="S3 bucket.")
_key = click.option("--key", help="S3 object key of the artifact.")
_region = click.option("--region", default=DEFAULT_REGION, show_default=True, help="S3 region.")
_insecure = click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify the TLS certificate of the S3 endpoint (or of --odoo-url).",
)


@click.group()
def job() -> None:
    """Back up, restore or verify one Odoo database (the runner of the backup Jobs).

    PostgreSQL is reached through PGHOST, PGPORT, PGUSER, PGPASSWORD; S3 with
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Logs go to stdout; on failure exactly
    one line goes to stderr and the exit status is non-zero.
    """


@job.command(cls=_OneLineCommand)
@click.option("--database", required=True, help="The database to back up.")
@_format
@click.option(
    "--filestore",
    type=click.Path(path_type=Path),
    help="The database's filestore directory, Odoo's DATA_DIR/filestore/DB (zip only).",
)
@click.option("--no-filestore", is_flag=True, help="Leave the filestore out of a zip backup.")
@_endpoint
@_bucket
@_key
@_region
@_insecure
@_log_format
def backup(
    *,
    database: str,
    backup_format: str,
    filestore: Path | None,
    no_filestore: bool,
    endpoint: str | None,
    bucket: str | None,
    key: str | None,
    region: str,
    insecure: bool,
    log_format: str,
) -> None:
    """Stream pg_dump (and the filestore) to an S3 object."""
    try:
        check_database_name(database)
        location = _s3_location(endpoint, bucket, key, region, insecure)
        filestore = _backup_filestore(backup_format, filestore, no_filestore)
        credentials = S3Credentials.from_environment()
    except JobError as error:
        _fail(str(error), EXIT_USAGE)
    request = BackupRequest(database, backup_format, filestore, location)
    _run(lambda log: run_backup(request, credentials, log), log_format, "backup")


def _backup_filestore(
    backup_format: str, filestore: Path | None, no_filestore: bool
) -> Path | None:
    if filestore is not None and no_filestore:
        raise JobError("--filestore and --no-filestore exclude each other")
    if backup_format != "zip":
        if filestore is not None:
            raise JobError(f"--filestore applies to --format zip only, not {backup_format}")
        return None
    if no_filestore:
        return None
    if filestore is None:
        raise JobError("--format zip needs --filestore DIR, or --no-filestore to leave it out")
    if not filestore.is_dir():
        raise JobError(f"--filestore {str(filestore)!r} is not a directory")
    return filestore


_odoo_url = click.option("--odoo-url", help="Fetch the backup from this live Odoo instead of S3.")
_source_database = click.option("--source-database", help="The database to fetch from --odoo-url.")


def _source_options(command: Callable[..., None]) -> Callable[..., None]:
    """The source flags that restore and verify share: S3 or a live Odoo."""
    for option in reversed(
        (_endpoint, _bucket, _key, _region, _insecure, _odoo_url, _source_database)
    ):
        command = option(command)
    return command


@job.command(cls=_OneLineCommand)
@click.option(
    "--database", required=True, help="The database to restore into (replaced if it exists)."
)
@_format
@click.option(
    "--filestore",
    type=click.Path(path_type=Path),
    help="The filestore directory to replace with the zip's filestore/ (zip only).",
)
@_source_options
@_log_format
def restore(
    *,
    database: str,
    backup_format: str,
    filestore: Path | None,
    log_format: str,
    **source: Any,
) -> None:
    """Load a backup into a new database, then swap it in for --database.

    The source is S3 (--endpoint, --bucket, --key) or a live Odoo (--odoo-url,
    --source-database, master password from ODOO_MASTER_PASSWORD).
    """
    try:
        check_database_name(database)
        if database_names.is_reserved(database):
            raise JobError(f"--database {database!r} is reserved; refusing to restore over it")
        if filestore is not None and backup_format != "zip":
            raise JobError(f"--filestore applies to --format zip only, not {backup_format}")
        if filestore is not None:
            ensure_filestore_root(filestore)
        request = RestoreRequest(
            database,
            backup_format,
            filestore,
            **_restore_source(backup_format=backup_format, **source),
        )
    except JobError as error:
        _fail(str(error), EXIT_USAGE)
    _run(lambda log: run_restore(request, log), log_format, "restore")


def _restore_source(
    *,
    backup_format: str,
    endpoint: str | None,
    bucket: str | None,
    key: str | None,
    region: str,
    insecure: bool,
    odoo_url: str | None,
    source_database: str | None,
) -> dict[str, Any]:
    from_s3 = any(value is not None for value in (endpoint, bucket, key))
    from_odoo = odoo_url is not None or source_database is not None
    if from_s3 == from_odoo:
        raise JobError(
            "give exactly one source: --endpoint/--bucket/--key (S3) or "
            "--odoo-url/--source-database (a live Odoo)"
        )
    if from_s3:
        S3Credentials.from_environment()
        return {"s3": _s3_location(endpoint, bucket, key, region, insecure)}
    if not odoo_url or not source_database:
        raise JobError("--odoo-url and --source-database go together")
    check_url(odoo_url, "--odoo-url")
    if backup_format == "sql":
        raise JobError("Odoo serves zip or dump backups, not --format sql")
    password = os.environ.get("ODOO_MASTER_PASSWORD", "")
    if not password:
        raise JobError("ODOO_MASTER_PASSWORD is not set (the source Odoo's master password)")
    return {"odoo": OdooSource(odoo_url, source_database, password, insecure)}


@job.command(cls=_OneLineCommand)
@click.option(
    "--database",
    required=True,
    help="The instance's database the backup belongs to; it names the scratch database "
    "and is never touched.",
)
@_format
@_source_options
@click.option(
    "--result-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the JSON result there (a Job: /dev/termination-log).",
)
@_log_format
def verify(
    *,
    database: str,
    backup_format: str,
    result_file: Path | None,
    log_format: str,
    **source: Any,
) -> None:
    """Restore a backup into a scratch database, check it, drop it.

    Same sources as restore. Checks that the load succeeds and, for a zip, that
    manifest.json matches the database (modules, version) and that every attachment's
    file is in the filestore. Prints one JSON line with "event": "verify.result";
    exit 0 when verified, 1 when not.
    """
    try:
        check_database_name(database)
        request = RestoreRequest(
            database,
            backup_format,
            None,
            **_restore_source(backup_format=backup_format, **source),
        )
    except JobError as error:
        _fail(str(error), EXIT_USAGE)
    odoo = request.odoo
    where = str(request.s3) if odoo is None else f"{odoo.url} ({odoo.database})"

    def publish(result: VerifyResult) -> None:
        line = joblog.Redactor.from_environment()(result.to_json())
        click.echo(line)
        if result_file is not None:
            result_file.write_text(line + "\n", encoding="utf-8")

    async def verify_job(log: Any) -> None:
        try:
            result = await run_verify(request, log)
        except JobError as error:
            publish(VerifyResult(False, where, backup_format, {"load": "failed"}, str(error)))
            raise
        publish(result)
        if not result.verified:
            raise JobError(f"the backup {where} did not verify: {result.message}")

    _run(verify_job, log_format, "verify")

"""Backup throughput and memory: the runner against `pg_dump > /dev/null`, same run.

A database of about 1 GB (text rows and incompressible bytea, made server-side with
generate_series) and a 200 MB filestore of incompressible files (as PDFs and images
are). For each format the real `odoo-operator job backup` uploads to the session's S3
endpoint; its wall time is compared with pg_dump writing the same format to /dev/null,
and its peak RSS (VmHWM of the runner process alone, from wait4) is recorded. The S3
endpoint's own ceiling (multipart upload of in-memory parts, no database involved) is
measured too, since on this machine it is a Python server on the same two cores.

Run under the shared lock, alone:
    flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/backup -m bench -s
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server

pytestmark = pytest.mark.bench

MIB = 1 << 20
FILESTORE_BYTES = 200 * MIB
# About 1 GB on disk: 5.5 M text rows (~700 MB) and 200 k bytea rows of 1.5 KiB (~330 MB).
BIG_SQL = """
CREATE TABLE account_move_line (
    id integer PRIMARY KEY, move_id integer, partner_id integer, name text,
    ref text, amount numeric(14, 2), date timestamp);
INSERT INTO account_move_line
SELECT i, i / 7, i % 5000, 'Invoice line ' || md5(i::text), upper(md5((i * 31)::text)),
       (i % 100000) / 100.0, timestamp '2020-01-01' + i * interval '17 seconds'
FROM generate_series(1, 5500000) AS i;
CREATE TABLE ir_attachment (id integer PRIMARY KEY, name text, db_datas bytea);
INSERT INTO ir_attachment
SELECT i, 'attachment ' || i, decode(
    (SELECT string_agg(md5((i * 97 + j)::text), '') FROM generate_series(1, 96) AS j), 'hex')
FROM generate_series(1, 200000) AS i;
INSERT INTO ir_module_module VALUES (1, 'base', 'installed', '17.0.1.3');
"""


def psql(server: PostgresServer, database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", database],
        input=sql,
        capture_output=True,
        text=True,
        env={**os.environ, **server.libpq_env()},
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def big_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"bench_{secrets.token_hex(3)}"
    psql(postgres_server, "postgres", f"CREATE DATABASE {name}")
    started = time.monotonic()
    psql(
        postgres_server,
        name,
        "CREATE TABLE ir_module_module (id integer, name text, state text, "
        "latest_version text);" + BIG_SQL + "VACUUM ANALYZE;",
    )
    size = int(psql(postgres_server, name, f"SELECT pg_database_size('{name}')"))
    print(f"\ngenerated {name}: {size / MIB:.0f} MiB in {time.monotonic() - started:.0f} s")
    yield name
    psql(postgres_server, "postgres", f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def filestore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-filestore") / "filestore"
    written = 0
    index = 0
    while written < FILESTORE_BYTES:
        size = 20_000 + (index * 7919) % 180_000  # 20-200 KB, like invoices and images
        digest = f"{index:040x}"
        path = root / digest[-2:] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        written += size
        index += 1
    return root


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # the runner and the pg_dump it waited for
    peak_rss_mib: float
    log: dict[str, object]


class PeakRss:
    """VmHWM of one process, read from /proc while it runs.

    Not ru_maxrss: that counts the forked copy of this (large) pytest process too.
    """

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                for line in self._path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.kib / 1024


def run_backup(
    postgres_server: PostgresServer, s3_server: S3Server, bucket: str, arguments: list[str]
) -> Run:
    env = {
        **os.environ,
        **postgres_server.libpq_env(),
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
    }
    command = [sys.executable, "-m", "odoo_operator", "job", "backup", *arguments]
    command += ["--endpoint", s3_server.endpoint, "--bucket", bucket]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        peak = PeakRss(process.pid)
        # wait4 reaps only after the last VmHWM read: the poller reads a live process.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        peak_mib = peak.stop()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert process.returncode == 0, stderr
    done = next(json.loads(line) for line in stdout.splitlines() if b"backup.done" in line)
    return Run(seconds, usage.ru_utime + usage.ru_stime, peak_mib, done)


def raw_pg_dump(postgres_server: PostgresServer, database: str, fmt: str) -> tuple[float, float]:
    """Wall and CPU seconds of `pg_dump --format=fmt > /dev/null`."""
    started = time.monotonic()
    process = subprocess.Popen(
        ["pg_dump", "--no-owner", f"--format={fmt}", "-d", database],
        stdout=subprocess.DEVNULL,
        env={**os.environ, **postgres_server.libpq_env()},
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    process.returncode = 0
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


def s3_ceiling(s3_server: S3Server, bucket: str, total: int) -> float:
    """MiB/s of a plain multipart upload of in-memory 8 MiB parts (no database)."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    part = os.urandom(8 * MIB)
    upload = client.create_multipart_upload(Bucket=bucket, Key="ceiling")["UploadId"]
    started = time.monotonic()
    for number in range(1, total // len(part) + 1):
        client.upload_part(
            Bucket=bucket, Key="ceiling", UploadId=upload, PartNumber=number, Body=part
        )
    seconds = time.monotonic() - started
    client.abort_multipart_upload(Bucket=bucket, Key="ceiling", UploadId=upload)
    return total / MIB / seconds


def test_backup_throughput_and_memory(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    big_database: str,
    filestore: Path,
) -> None:
    bucket = f"bench-{secrets.token_hex(4)}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    client.create_bucket(Bucket=bucket)
    filestore_bytes = sum(p.stat().st_size for p in filestore.rglob("*") if p.is_file())

    ceiling = s3_ceiling(s3_server, bucket, 256 * MIB)
    raw = {fmt: raw_pg_dump(postgres_server, big_database, fmt) for fmt in ("plain", "custom")}
    rows = []
    for fmt, raw_format, extra in (
        ("sql", "plain", []),
        ("dump", "custom", []),
        ("zip", "plain", ["--filestore", str(filestore)]),
    ):
        run = run_backup(
            postgres_server,
            s3_server,
            bucket,
            ["--database", big_database, "--format", fmt, "--key", f"big.{fmt}", *extra],
        )
        client.delete_object(Bucket=bucket, Key=f"big.{fmt}")
        dump_bytes = int(str(run.log["dump_bytes"]))
        moved = dump_bytes + (filestore_bytes if fmt == "zip" else 0)
        raw_seconds, raw_cpu = raw[raw_format]
        raw_rate = dump_bytes / MIB / raw_seconds
        rate = moved / MIB / run.seconds
        rows.append(
            (
                fmt,
                f"{moved / MIB:.0f}",
                f"{int(str(run.log['bytes'])) / MIB:.0f}",
                f"{run.seconds:.1f}",
                f"{rate:.0f}",
                f"{raw_seconds:.1f}",
                f"{raw_rate:.0f}",
                f"{100 * rate / raw_rate:.0f}%",
                f"{raw_cpu:.1f}",
                f"{run.cpu_seconds:.1f}",
                f"{run.peak_rss_mib:.0f}",
            )
        )
    small = run_backup(
        postgres_server,
        s3_server,
        bucket,
        ["--database", "postgres", "--format", "sql", "--key", "small.sql"],
    )

    header = (
        "format", "MiB in", "MiB up", "runner s", "runner MiB/s", "pg_dump>null s",
        "pg_dump MiB/s", "runner/pg_dump", "pg_dump CPU s", "runner CPU s", "peak RSS MiB",
    )  # fmt: skip
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nS3 endpoint ceiling (boto3, in-memory 8 MiB parts, no database): {ceiling:.0f} MiB/s")
    print(f"peak RSS of a backup of a nearly empty database: {small.peak_rss_mib:.0f} MiB")
    files = sum(1 for p in filestore.rglob("*") if p.is_file())
    print(f"filestore: {filestore_bytes / MIB:.0f} MiB in {files} files")

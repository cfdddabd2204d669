"""Backup throughput, CPU and memory: the runner against what users run today, same run.

A database of about 540 MiB (text rows and incompressible bytea, made server-side with
generate_series) and a 200 MiB filestore of incompressible files (as PDFs and images
are). For each format the real `odoo-operator job backup` uploads to the session's S3
endpoint, and so does the pipeline a hoster writes by hand with awscli (1.46 from PyPI,
in a virtualenv of its own: it pins its own botocore), on the same endpoint:
`pg_dump | aws s3 cp - s3://...` for sql, `pg_dump -Fc | aws ...` for dump, and
`pg_dump | gzip -1 | aws ...` against a zip without filestore. Every pipeline runs
`ROUNDS` times, interleaved. CPU is every process of the pipeline (pg_dump included)
per GiB read; peak RSS is the uploading process's alone (the runner; aws).

Run under the shared lock, alone:
    flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/backup -m bench -s
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server
from tests.bench.backup.measure import MIB, Measured, run_pipeline

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

GIB = 1 << 30
ROUNDS = 2
FILESTORE_BYTES = 200 * MIB
AWSCLI = "awscli==1.46.*"
# About 540 MiB on disk: 2.5 M text rows and 100 k incompressible bytea rows of 1.5 KiB.
BIG_SQL = """
CREATE TABLE ir_module_module (id integer, name text, state text, latest_version text);
INSERT INTO ir_module_module VALUES (1, 'base', 'installed', '17.0.1.3');
CREATE TABLE account_move_line (
    id integer PRIMARY KEY, move_id integer, partner_id integer, name text,
    ref text, amount numeric(14, 2), date timestamp);
INSERT INTO account_move_line
SELECT i, i / 7, i % 5000, 'Invoice line ' || md5(i::text), upper(md5((i * 31)::text)),
       (i % 100000) / 100.0, timestamp '2020-01-01' + i * interval '17 seconds'
FROM generate_series(1, 2500000) AS i;
CREATE TABLE ir_attachment (id integer PRIMARY KEY, name text, db_datas bytea);
INSERT INTO ir_attachment
SELECT i, 'attachment ' || i, decode(
    (SELECT string_agg(md5((i * 97 + j)::text), '') FROM generate_series(1, 96) AS j), 'hex')
FROM generate_series(1, 100000) AS i;
VACUUM ANALYZE;
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
    psql(postgres_server, name, BIG_SQL)
    size = int(psql(postgres_server, name, "SELECT pg_database_size(current_database())"))
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


@pytest.fixture(scope="session")
def aws() -> str:
    """The `aws` command of awscli, installed once into the cache, beside nothing else."""
    default = Path.home() / ".cache" / "odoo-operator"
    cache = Path(os.environ.get("ODOO_OPERATOR_CACHE_DIR", default))
    venv = cache / "bench-awscli"
    command = venv / "bin" / "aws"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "bench-awscli.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not command.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", AWSCLI], check=True)
    return str(command)


class Pipelines:
    """Every pipeline measured, on one database, bucket and endpoint."""

    def __init__(
        self, pg: PostgresServer, s3: S3Server, database: str, bucket: str, aws: str
    ) -> None:
        self.s3, self.database, self.bucket, self.aws = s3, database, bucket, aws
        self.env = {
            **os.environ,
            **pg.libpq_env(),
            "PGDATABASE": database,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }

    def runner(self, fmt: str, key: str, *extra: str) -> Measured:
        command = [sys.executable, "-m", "odoo_operator", "job", "backup"]
        command += ["--database", self.database, "--format", fmt]
        command += ["--endpoint", self.s3.endpoint, "--bucket", self.bucket, "--key", key]
        return run_pipeline([[*command, *extra]], self.env)

    def awscli(self, fmt: str, key: str) -> Measured:
        dump = ["pg_dump", "--no-owner", "--format=custom" if fmt == "dump" else "--format=plain"]
        upload = [self.aws, "s3", "cp", "-", f"s3://{self.bucket}/{key}"]
        upload += ["--endpoint-url", self.s3.endpoint, "--only-show-errors"]
        compress = [["gzip", "-1"]] if fmt == "zip" else []
        return run_pipeline([dump, *compress, upload], self.env)

    def pg_dump_to_null(self) -> Measured:
        return run_pipeline([["pg_dump", "--no-owner", "--file=/dev/null"]], self.env)


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


def logged(measured: Measured, field: str) -> int:
    lines = measured.stdout.splitlines()
    done = next(json.loads(line) for line in lines if b"backup.done" in line)
    return int(done[field])


def test_backup_against_awscli(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    big_database: str,
    filestore: Path,
    aws: str,
) -> None:
    bucket = f"bench-{secrets.token_hex(4)}"
    s3_ceiling_client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    s3_ceiling_client.create_bucket(Bucket=bucket)
    filestore_bytes = sum(p.stat().st_size for p in filestore.rglob("*") if p.is_file())
    run = Pipelines(postgres_server, s3_server, big_database, bucket, aws)
    with_files = ("--filestore", str(filestore))
    # Each case: the key it uploads to, and how.
    cases: dict[tuple[str, str], tuple[str, Callable[[str], Measured]]] = {
        ("sql", "runner"): ("r.sql", lambda key: run.runner("sql", key)),
        ("sql", "pg_dump | aws"): ("a.sql", lambda key: run.awscli("sql", key)),
        ("dump", "runner"): ("r.dump", lambda key: run.runner("dump", key)),
        ("dump", "pg_dump -Fc | aws"): ("a.dump", lambda key: run.awscli("dump", key)),
        ("zip, no filestore", "runner"): (
            "r.zip",
            lambda key: run.runner("zip", key, "--no-filestore"),
        ),
        ("zip, no filestore", "pg_dump | gzip -1 | aws"): (
            "a.gz",
            lambda key: run.awscli("zip", key),
        ),
        ("zip + filestore", "runner"): ("f.zip", lambda key: run.runner("zip", key, *with_files)),
    }
    results: dict[tuple[str, str], list[Measured]] = {case: [] for case in cases}
    for _ in range(ROUNDS):
        for case, (key, measure) in cases.items():
            results[case].append(measure(key))
    stored = {
        case: s3_ceiling_client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        for case, (key, _) in cases.items()
    }
    plain = logged(results[("sql", "runner")][0], "dump_bytes")
    custom = logged(results[("dump", "runner")][0], "dump_bytes")

    header = ("format", "pipeline", "s", "MiB/s", "CPU s per GiB", "peak RSS MiB", "object MiB")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for (fmt, tool), runs in results.items():
        read = custom if fmt == "dump" else plain
        read += filestore_bytes if fmt == "zip + filestore" else 0
        seconds = sorted(m.seconds for m in runs)
        cpu = sorted(m.cpu_seconds * GIB / read for m in runs)
        row = (
            fmt,
            f"`{tool}`".replace("|", "\\|"),
            f"{seconds[0]:.1f}-{seconds[-1]:.1f}",
            f"{read / MIB / seconds[-1]:.0f}-{read / MIB / seconds[0]:.0f}",
            f"{cpu[0]:.1f}-{cpu[-1]:.1f}",
            f"{max(m.peak_rss_mib for m in runs):.0f}",
            f"{stored[(fmt, tool)] / MIB:.0f}",
        )
        print("| " + " | ".join(row) + " |")

    raw = run.pg_dump_to_null()
    ceiling = s3_ceiling(s3_server, bucket, 256 * MIB)
    small = Pipelines(postgres_server, s3_server, "postgres", bucket, aws).runner("sql", "s")
    print(f"\nplain dump {plain / MIB:.0f} MiB, custom dump {custom / MIB:.0f} MiB, ", end="")
    print(f"filestore {filestore_bytes / MIB:.0f} MiB in {sum(1 for _ in filestore.rglob('*'))}")
    print(f"pg_dump > /dev/null (plain): {raw.seconds:.1f} s, {raw.cpu_seconds:.1f} s CPU")
    print(f"S3 endpoint alone (boto3, 8 MiB parts one at a time): {ceiling:.0f} MiB/s")
    print(f"peak RSS of a backup of a nearly empty database: {small.peak_rss_mib:.0f} MiB")

"""What a verification costs: `job verify` against `job restore` of the same backup.

Two backups made by the real runner (zip with filestore): the runner tests' Odoo-shaped
database (ODOO_SCHEMA: 200 attachments with files, 40 000 in-database attachments, a
large row) and the same plus a table of 900 000 rows (about 120 MiB of plain dump, the
runner tests' `big_database`). For each, `ROUNDS` runs of verify and of restore into a
fresh database, interleaved. Figures: wall seconds, CPU seconds of the runner and its
client tools (psql; PostgreSQL's own server CPU is not counted), and the object's size.

Run under the shared lock, alone:
    flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/test_verify_bench.py -m bench -s
"""

from __future__ import annotations

import hashlib
import resource
import statistics
import time
from pathlib import Path

import pytest

from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server
from tests.runner.conftest import World

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

ROUNDS = 3
BIG_TABLE = (
    "CREATE TABLE big (id integer PRIMARY KEY, payload text);"
    "INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 900000) i;"
)


def attachment_files(root: Path) -> Path:
    for index in range(1, 201):
        name = hashlib.md5(str(index).encode(), usedforsecurity=False).hexdigest()
        path = root / "ab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(index.to_bytes(2, "big") * 5000)
    return root


def children_cpu() -> float:
    """CPU seconds of the waited-for descendants: the runner and its psql."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(world: World, job: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one runner job, which must succeed."""
    cpu, start = children_cpu(), time.monotonic()
    result = world.job(*job)
    assert result.code == 0, result.stderr
    return time.monotonic() - start, children_cpu() - cpu


def test_verify_cost(postgres_server: PostgresServer, s3_server: S3Server, tmp_path: Path) -> None:
    world = World(postgres_server, s3_server, tmp_path)
    try:
        files = attachment_files(tmp_path / "filestore")
        rows = []
        backups = (("odoo-shaped", ""), ("odoo-shaped + 120 MiB table", BIG_TABLE))
        for number, (name, extra_sql) in enumerate(backups):
            database = world.create_odoo_database(f"bench_{number}")
            if extra_sql:
                world.role_sql(database, extra_sql)
            key = f"{database}.zip"
            assert world.backup(database, key, "zip", "--filestore", str(files)).code == 0
            size = world.client.head_object(Bucket=world.bucket, Key=key)["ContentLength"]
            runs: dict[str, list[tuple[float, float]]] = {"verify": [], "restore": []}
            for round_number in range(ROUNDS):
                runs["verify"].append(
                    measure(world, ["verify", "--database", database, *world.s3_flags(key)])
                )
                target = f"restored_{number}_{round_number}"
                filestore = tmp_path / "restored" / target
                filestore.parent.mkdir(exist_ok=True)
                restore = ["restore", "--database", target, "--filestore", str(filestore)]
                runs["restore"].append(measure(world, [*restore, *world.s3_flags(key)]))
            for what, figures in runs.items():
                wall = statistics.median(w for w, _ in figures)
                cpu = statistics.median(c for _, c in figures)
                rows.append(
                    f"| {name} | {size / (1 << 20):.1f} | {what} | {wall:.2f} | {cpu:.2f} |"
                )
        print("\n| backup | zip MiB | job | wall s (median) | CPU s (median) |")
        print("|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        world.drop_everything()

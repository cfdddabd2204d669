"""OdooBackupJob: back the instance's database (and filestore) up to S3 (SPEC §6).

The batch Job runs `--operator-image`: `odoo-operator job backup --database <db> --format
<format> [--filestore /var/lib/odoo/filestore/<db> | --no-filestore] --endpoint ...
--bucket ... --key ... [--region R] [--insecure]` as the instance's role, the filestore
PVC mounted. `--filestore`/`--no-filestore` are zip-only (sql and dump hold no files).
It runs while the instance is BackingUp, which also happens while it is Stopped; the web
pods keep serving. Deadline: 6 hours.
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.job_resources import BackupFormat, OdooBackupJobSpec
from odoo_operator.controllers.jobs.batch import Target, batch_job, runner_container, s3_args

DEADLINE_SECONDS = 6 * 3600
CONTAINER = "backup"


def args(spec: OdooBackupJobSpec, target: Target) -> list[str]:
    words = ["backup", "--database", target.database, "--format", spec.format.value]
    if spec.format is BackupFormat.ZIP:
        words += (
            ["--filestore", target.filestore_dir()] if spec.with_filestore else ["--no-filestore"]
        )
    where = spec.destination
    return words + s3_args(
        where.endpoint, where.bucket, where.object_key, where.region, where.insecure
    )


def build(spec: OdooBackupJobSpec, target: Target) -> dict[str, Any]:
    container = runner_container(target, CONTAINER, args(spec, target))
    return batch_job(target, DEADLINE_SECONDS, [container])


def why_not(spec: OdooBackupJobSpec, db_initialized: bool) -> str | None:
    if not db_initialized:
        return "the database was never initialized: there is nothing to back up"
    return None

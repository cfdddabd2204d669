"""The verification batch Job of a scheduled backup: `odoo-operator job verify` (SPEC §2).

The OdooBackupSchedule controller makes it after each successful backup when
`spec.verify` is true; it is built here, next to the restore Job whose source flags it
shares, from the same `Target` and builders (`batch`), so that it runs exactly as a
restore would: `--operator-image`, the instance's role (`PGUSER`/`PGPASSWORD` by
`secretKeyRef`), the resolved cluster's `PGHOST`/`PGPORT`, S3 credentials by
`secretKeyRef` (copied into the instance's namespace like a restore's), `backoffLimit: 0`.

`odoo-operator job verify --database <db> --format <format> --endpoint ... --bucket ...
--key ... [--region R] [--insecure] --result-file /dev/termination-log`: the backup is
loaded into a scratch database that is dropped afterwards; the instance's database is
never touched. The Job's exit status is the verdict (0: verified). Deadline: 6 hours.
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.job_resources import BackupFormat
from odoo_operator.controllers.jobs.batch import Target, batch_job, runner_container, s3_args

DEADLINE_SECONDS = 6 * 3600
CONTAINER = "verify"
RESULT_FILE = "/dev/termination-log"


def args(
    target: Target,
    fmt: BackupFormat,
    where: tuple[str, str, str, str | None, bool],
) -> list[str]:
    """`where`: (endpoint, bucket, key, region, insecure) of the backup to verify."""
    endpoint, bucket, key, region, insecure = where
    words = ["verify", "--database", target.database, "--format", fmt.value]
    return [*words, *s3_args(endpoint, bucket, key, region, insecure), "--result-file", RESULT_FILE]


def build(
    target: Target, fmt: BackupFormat, where: tuple[str, str, str, str | None, bool]
) -> dict[str, Any]:
    container = runner_container(target, CONTAINER, args(target, fmt, where))
    return batch_job(target, DEADLINE_SECONDS, [container])

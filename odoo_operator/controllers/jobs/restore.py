"""OdooRestoreJob: replace the instance's database by a backup (SPEC §6).

The batch Job runs `--operator-image`: `odoo-operator job restore --database <db>
--format <format> [--filestore /var/lib/odoo/filestore/<db>] (--endpoint ... --bucket ...
--key ... | --odoo-url URL --source-database SDB)` as the instance's role (it owns the
database and has CREATEDB). The runner loads into a new database and swaps only on
success, so a failed restore leaves the old database and filestore as they were.

With `neutralize` (the default) the runner is the pod's init container and the main
container runs the instance's image: `odoo neutralize --config /etc/odoo/odoo.conf -d
<db>`, which starts only once the restore succeeded. If neutralize fails, the Job fails
although the restored database is in place (not neutralized): the message says so.

It runs while the instance is Restoring (web and cron at 0). A source of type s3 needs
`source.s3`, type odoo needs `source.odoo` (with `sourceDatabase`); the master password
of an Odoo source reaches the runner as `ODOO_MASTER_PASSWORD` from a Secret made for
the Job. Deadline: 6 hours.
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.job_resources import (
    BackupFormat,
    OdooRestoreJobSpec,
    RestoreSourceType,
)
from odoo_operator.controllers.instance import pods
from odoo_operator.controllers.instance.odooconf import CONF_PATH
from odoo_operator.controllers.jobs.batch import Target, batch_job, runner_container, s3_args

DEADLINE_SECONDS = 6 * 3600
RUNNER = "restore"
NEUTRALIZE = "neutralize"


def why_not(spec: OdooRestoreJobSpec, db_initialized: bool) -> str | None:
    source = spec.source
    if source.type is RestoreSourceType.S3 and source.s3 is None:
        return "spec.source.s3 is required when spec.source.type is s3"
    if source.type is RestoreSourceType.ODOO:
        if source.odoo is None:
            return "spec.source.odoo is required when spec.source.type is odoo"
        if not source.odoo.source_database:
            return "spec.source.odoo.sourceDatabase is required"
    return None


def args(spec: OdooRestoreJobSpec, target: Target) -> list[str]:
    words = ["restore", "--database", target.database, "--format", spec.format.value]
    if spec.format is BackupFormat.ZIP:
        words += ["--filestore", target.filestore_dir()]
    source = spec.source
    if source.type is RestoreSourceType.S3 and source.s3 is not None:
        where = source.s3
        words += s3_args(
            where.endpoint, where.bucket, where.object_key, where.region, where.insecure
        )
    elif source.odoo is not None:
        words += [
            "--odoo-url",
            source.odoo.url,
            "--source-database",
            source.odoo.source_database or "",
        ]
    return words


def neutralize_container(target: Target) -> dict[str, Any]:
    instance = target.instance
    container = pods.odoo_container(instance, [], instance.spec.resources)
    container["name"] = NEUTRALIZE
    container["args"] = [NEUTRALIZE, "--config", CONF_PATH, "-d", target.database]
    return container


def build(spec: OdooRestoreJobSpec, target: Target) -> dict[str, Any]:
    runner = runner_container(target, RUNNER, args(spec, target))
    if not spec.neutralize:
        return batch_job(target, DEADLINE_SECONDS, [runner])
    return batch_job(target, DEADLINE_SECONDS, [neutralize_container(target)], [runner])

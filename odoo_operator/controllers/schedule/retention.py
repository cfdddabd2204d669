"""Retention after a successful scheduled backup, from the operator process.

Guarantees:
- it runs for the newest finished backup of the schedule only when that backup
  Completed (a Failed one prunes nothing: `backups.prune` is given no latest key), and
  once per backup: the reconciler records the key in `status.prunedAfter` and does not
  run it again for that key (pruning is idempotent anyway, so a crash before the record
  costs one more LIST);
- the S3 credentials come from `spec.destination.s3CredentialsSecretRef` (read through
  the API, `jobs.credentials.s3_keys`), live in memory for the requests, and are never
  logged; without that reference (or without the Secret) nothing is pruned or counted,
  `CannotRun` says why, and the next reconcile tries again;
- without `spec.retention` nothing is deleted: the backups under the prefix are only
  counted (`status.backups`);
- deletions are logged and counted by `backups.prune` on the manager's registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from odoo_operator.api.backup_schedule import OdooBackupScheduleSpec
from odoo_operator.backups import retention
from odoo_operator.backups.keys import instance_prefix
from odoo_operator.backups.prune import (
    DEFAULT_REGION,
    RetentionMetrics,
    S3Destination,
    list_backups,
    prune,
    s3_client,
)
from odoo_operator.controllers.jobs import credentials
from odoo_operator.controllers.jobs.batch import S3_ACCESS_KEY, S3_SECRET_KEY, CannotRun
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.runner.s3 import S3Credentials
from odoo_operator.runtime.objects import ObjectKey


@dataclass(frozen=True)
class Outcome:
    kept: int  # backups under the prefix after pruning
    deleted: tuple[str, ...] = ()
    problem: str | None = None  # why nothing was pruned (the new backup is not listed)


async def after_backup(
    ctx: JobContext,
    metrics: RetentionMetrics,
    spec: OdooBackupScheduleSpec,
    instance: ObjectKey,
    latest_key: str,
) -> Outcome:
    """Prune (or count, without a policy) the instance's backups after `latest_key`."""
    where = spec.destination
    ref = where.s3_credentials_secret_ref
    if ref is None:
        raise CannotRun(
            "spec.destination.s3CredentialsSecretRef is not set: "
            "the operator cannot list or prune the backups"
        )
    keys = await credentials.s3_keys(
        ctx,
        "spec.destination.s3CredentialsSecretRef",
        ObjectKey(ref.namespace or instance.namespace, ref.name),
    )
    access = S3Credentials(keys[S3_ACCESS_KEY], keys[S3_SECRET_KEY])
    destination = S3Destination(
        where.bucket, where.prefix, where.endpoint, where.region or DEFAULT_REGION, where.insecure
    )
    async with s3_client(destination, access) as client:
        if spec.retention is None:
            under = instance_prefix(where.prefix, instance.namespace, instance.name)
            return Outcome(len(await list_backups(client, where.bucket, under)))
        policy = retention.Policy(
            spec.retention.keep_last,
            spec.retention.keep_daily,
            spec.retention.keep_weekly,
            spec.retention.keep_monthly,
        )
        report = await prune(
            client, destination, instance.namespace, instance.name, policy,
            latest_backup=latest_key, metrics=metrics,
        )  # fmt: skip
    return Outcome(len(report.kept) + len(report.failed), report.deleted, report.skipped_reason)

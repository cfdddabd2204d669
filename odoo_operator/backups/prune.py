"""Retention on S3: delete the schedule's backups that its policy does not keep.

Runs in the operator process (the schedule controller calls `prune` after each completed
OdooBackupJob): a few LIST and DELETE requests need no Job pod, and the operator already
reads the credentials Secret. The credentials live in memory only; `S3Credentials` has no
secret in its repr, and nothing here logs a request.

Guarantees:
- nothing is deleted when the latest backup failed (`latest_backup` is None), nor when
  the key of the latest backup is missing from the listing (a wrong prefix or a store
  that lists late must not cost the history);
- only keys the schedule writes are considered (`keys.parse_key`: exactly
  `<prefix>/<namespace>/<instance>/<UTC timestamp>.<ext>`); any other object under the
  prefix is never deleted;
- the latest backup and the newest backup are always kept, whatever the policy;
- every deleted key is logged (`backup deleted by retention`) and counted in
  `odoo_operator_backup_retention_deleted_total{namespace,instance}`; keys the store
  refused to delete are logged as errors and reported, not counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from odoo_operator.backups import retention
from odoo_operator.backups.keys import BackupObject, instance_prefix, parse_key
from odoo_operator.runner.s3 import S3Credentials, S3Location
from odoo_operator.runner.s3 import s3_client as runner_s3_client

_log = structlog.get_logger(__name__)
DEFAULT_REGION = "us-east-1"
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


@dataclass(frozen=True)
class S3Destination:
    bucket: str
    prefix: str
    endpoint: str | None = None
    region: str = DEFAULT_REGION
    insecure: bool = False


@dataclass(frozen=True)
class PruneReport:
    kept: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    skipped_reason: str | None = None  # why nothing was considered for deletion


class RetentionMetrics:
    """`odoo_operator_backup_retention_deleted_total{namespace,instance}` on a registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deleted = Counter(
            "odoo_operator_backup_retention_deleted_total",
            "Backup objects deleted by a schedule's retention policy.",
            ("namespace", "instance"),
            registry=registry,
        )


@asynccontextmanager
async def s3_client(destination: S3Destination, credentials: S3Credentials) -> AsyncIterator[Any]:
    """The runner's S3 client (same timeouts, retries and checksum settings)."""
    location = S3Location(
        destination.bucket, destination.prefix, destination.endpoint, destination.region,
        destination.insecure,
    )  # fmt: skip
    async with runner_s3_client(location, credentials) as client:
        yield client


async def list_backups(client: Any, bucket: str, under: str) -> list[BackupObject]:
    """The schedule's backups under the key prefix `under` (other keys left out)."""
    found: list[BackupObject] = []
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=under):
        for item in page.get("Contents", []):
            backup = parse_key(item["Key"], under)
            if backup is not None:
                found.append(backup)
    return found


async def prune(
    client: Any,
    destination: S3Destination,
    namespace: str,
    instance: str,
    policy: retention.Policy,
    *,
    latest_backup: str | None,
    metrics: RetentionMetrics,
) -> PruneReport:
    """Apply `policy` under the instance's prefix after a backup (see the guarantees)."""
    log = _log.bind(namespace=namespace, instance=instance, bucket=destination.bucket)
    if latest_backup is None:
        log.info("retention skipped: the latest backup failed")
        return PruneReport(skipped_reason="the latest backup failed")
    under = instance_prefix(destination.prefix, namespace, instance)
    backups = await list_backups(client, destination.bucket, under)
    latest = next((backup for backup in backups if backup.key == latest_backup), None)
    if latest is None:
        reason = f"the latest backup {latest_backup} is not listed under {under}"
        log.warning("retention skipped", reason=reason)
        return PruneReport(kept=tuple(sorted(b.key for b in backups)), skipped_reason=reason)
    kept = retention.keep(backups, policy) | {latest}
    doomed = sorted(backup.key for backup in backups if backup not in kept)
    deleted: list[str] = []
    failed: list[str] = []
    for start in range(0, len(doomed), DELETE_BATCH):
        batch = doomed[start : start + DELETE_BATCH]
        answer = await client.delete_objects(
            Bucket=destination.bucket,
            Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
        )
        refused = {error["Key"]: error for error in answer.get("Errors", [])}
        for key in batch:
            if key in refused:
                failed.append(key)
                log.error(
                    "backup not deleted by retention",
                    key=key,
                    code=refused[key].get("Code"),
                    message=refused[key].get("Message"),
                )
            else:
                deleted.append(key)
                log.info("backup deleted by retention", key=key)
    metrics.deleted.labels(namespace, instance).inc(len(deleted))
    return PruneReport(
        kept=tuple(sorted(backup.key for backup in kept)),
        deleted=tuple(deleted),
        failed=tuple(failed),
    )

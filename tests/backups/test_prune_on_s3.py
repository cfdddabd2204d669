"""Retention on the real S3 server (moto over HTTP): `backups.prune` deletes exactly the
backups the policy does not keep, and nothing else, ever, in the cases the issue names."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from odoo_operator.backups.keys import BackupObject, backup_key, instance_prefix, pre_upgrade_key
from odoo_operator.backups.prune import (
    RetentionMetrics,
    S3Credentials,
    S3Destination,
    prune,
    s3_client,
)
from odoo_operator.backups.retention import Policy, keep
from odoo_operator.sandbox.s3 import S3Server

START = datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
GFS = Policy(keep_daily=7, keep_weekly=4, keep_monthly=3)
METRIC = "odoo_operator_backup_retention_deleted_total"


@pytest.fixture
async def store(s3_server: S3Server) -> AsyncIterator[tuple[Any, S3Destination]]:
    destination = S3Destination(
        bucket=f"prune-{secrets.token_hex(5)}",
        prefix="nightly/",
        endpoint=s3_server.endpoint,
        region=s3_server.region,
    )
    credentials = S3Credentials(s3_server.access_key, s3_server.secret_key)
    async with s3_client(destination, credentials) as client:
        await client.create_bucket(Bucket=destination.bucket)
        yield client, destination


async def put(client: Any, destination: S3Destination, *keys: str) -> None:
    for key in keys:
        await client.put_object(Bucket=destination.bucket, Key=key, Body=b"backup")


async def listing(client: Any, destination: S3Destination) -> set[str]:
    found: set[str] = set()
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=destination.bucket):
        found |= {item["Key"] for item in page.get("Contents", [])}
    return found


def a_year(destination: S3Destination) -> list[BackupObject]:
    days = (START + timedelta(days=day) for day in range(365))
    return [BackupObject(t, backup_key(destination.prefix, "ns", "shop", t, "zip")) for t in days]


def foreign_keys(destination: S3Destination) -> set[str]:
    """Objects under or beside the prefix that the schedule did not write."""
    under = instance_prefix(destination.prefix, "ns", "shop")
    return {
        f"{under}manual-before-upgrade.zip",
        f"{under}20260105T023000Z.zip.bak",
        f"{under}old/20260105T023000Z.zip",
        backup_key(destination.prefix, "ns", "shop2", START, "zip"),  # another instance
        backup_key(destination.prefix, "other", "shop", START, "zip"),  # another namespace
        backup_key("elsewhere", "ns", "shop", START, "zip"),  # another prefix
    }


def deleted_count(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value(f"{METRIC}", {"namespace": "ns", "instance": "shop"})
    return value or 0.0


async def test_a_year_of_backups_is_pruned_to_exactly_the_gfs_set(
    store: tuple[Any, S3Destination],
) -> None:
    client, destination = store
    backups = a_year(destination)
    foreign = foreign_keys(destination)
    await put(client, destination, *(b.key for b in backups), *foreign)
    registry = CollectorRegistry()
    kept = {b.key for b in keep(backups, GFS)}
    with capture_logs() as logs:
        report = await prune(
            client, destination, "ns", "shop", GFS,
            latest_backup=backups[-1].key, metrics=RetentionMetrics(registry),
        )  # fmt: skip
    assert len(kept) == 11  # 7 daily, 4 weekly, 3 monthly, overlapping (docs/backups.md)
    assert await listing(client, destination) == kept | foreign
    assert set(report.deleted) == {b.key for b in backups} - kept
    assert set(report.kept) == kept
    assert report.failed == ()
    assert deleted_count(registry) == 365 - 11
    logged = {e["key"] for e in logs if e["event"] == "backup deleted by retention"}
    assert logged == set(report.deleted)


async def test_pruning_after_each_backup_of_a_month_keeps_the_same_set_as_once(
    store: tuple[Any, S3Destination],
) -> None:
    client, destination = store
    backups = a_year(destination)[:40]
    metrics = RetentionMetrics(CollectorRegistry())
    for new in backups:
        await put(client, destination, new.key)
        await prune(client, destination, "ns", "shop", GFS, latest_backup=new.key, metrics=metrics)
    assert await listing(client, destination) == {b.key for b in keep(backups, GFS)}


async def test_a_failed_latest_backup_deletes_nothing(store: tuple[Any, S3Destination]) -> None:
    client, destination = store
    backups = a_year(destination)[:30]
    await put(client, destination, *(b.key for b in backups))
    registry = CollectorRegistry()
    report = await prune(
        client, destination, "ns", "shop", Policy(keep_last=1),
        latest_backup=None, metrics=RetentionMetrics(registry),
    )  # fmt: skip
    assert report.skipped_reason == "the latest backup failed"
    assert await listing(client, destination) == {b.key for b in backups}
    assert deleted_count(registry) == 0


async def test_a_latest_backup_missing_from_the_listing_deletes_nothing(
    store: tuple[Any, S3Destination],
) -> None:
    client, destination = store
    backups = a_year(destination)[:30]
    await put(client, destination, *(b.key for b in backups))
    unseen = backup_key(destination.prefix, "ns", "shop", START + timedelta(days=40), "zip")
    report = await prune(
        client, destination, "ns", "shop", Policy(keep_last=1),
        latest_backup=unseen, metrics=RetentionMetrics(CollectorRegistry()),
    )  # fmt: skip
    assert report.skipped_reason is not None
    assert unseen in report.skipped_reason
    assert await listing(client, destination) == {b.key for b in backups}


async def test_the_latest_backup_is_kept_even_when_older_than_the_newest(
    store: tuple[Any, S3Destination],
) -> None:
    """A newer object (another writer) must not cost the backup just made."""
    client, destination = store
    backups = a_year(destination)[:10]
    await put(client, destination, *(b.key for b in backups))
    report = await prune(
        client, destination, "ns", "shop", Policy(keep_last=1),
        latest_backup=backups[4].key, metrics=RetentionMetrics(CollectorRegistry()),
    )  # fmt: skip
    assert set(report.kept) == {backups[4].key, backups[-1].key}
    assert await listing(client, destination) == {backups[4].key, backups[-1].key}


def test_credentials_never_show_the_secret() -> None:
    credentials = S3Credentials("AKIAEXAMPLE", "very-secret-value")
    assert "very-secret-value" not in repr(credentials)
    assert "very-secret-value" not in str(credentials)


async def test_pre_upgrade_backups_are_never_counted_nor_pruned(
    store: tuple[Any, S3Destination],
) -> None:
    """Backups taken before an upgrade (`pre_upgrade_key`) sit under the schedule's prefix
    and must survive any policy: a rollback may need them."""
    client, destination = store
    backups = a_year(destination)[:10]
    before_upgrades = {
        pre_upgrade_key(
            destination.prefix,
            "ns",
            "shop",
            START + timedelta(days=day),
            upgrade=f"upgrade-{day}",
            fmt="zip",
        )
        for day in range(3)
    }
    await put(client, destination, *(b.key for b in backups), *before_upgrades)
    report = await prune(
        client, destination, "ns", "shop", Policy(keep_last=1),
        latest_backup=backups[-1].key, metrics=RetentionMetrics(CollectorRegistry()),
    )  # fmt: skip
    assert await listing(client, destination) == {backups[-1].key} | before_upgrades
    assert not before_upgrades & (set(report.kept) | set(report.deleted))

"""Backup before upgrade, the pure parts (`controllers.jobs.backup_first`): whether a
backup comes first, where it goes, and the OdooBackupJob / OdooRestoreJob it makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from odoo_operator.api.job_resources import OdooUpgradeJobSpec
from odoo_operator.backups.keys import instance_prefix, parse_key
from odoo_operator.controllers.jobs import backup_first
from odoo_operator.controllers.jobs.backup_first import (
    backs_up_first,
    backup_body,
    destination,
    rollback_body,
)

WHEN = dt.datetime(2026, 3, 1, 4, 5, 6, tzinfo=dt.UTC)
UPGRADE: dict[str, Any] = {
    "apiVersion": "bemade.org/v1alpha1",
    "kind": "OdooUpgradeJob",
    "metadata": {"name": "to-18", "namespace": "shop-ns", "uid": "uid-1"},
    "spec": {"odooInstanceRef": {"name": "shop"}},
}
EXPLICIT = {"bucket": "mine", "prefix": "pre", "endpoint": "https://s3.example.com",
            "s3CredentialsSecretRef": {"name": "creds"}}  # fmt: skip


def spec(**fields: Any) -> OdooUpgradeJobSpec:
    return OdooUpgradeJobSpec.model_validate({"odooInstanceRef": {"name": "shop"}, **fields})


def schedule(name: str, created: str, bucket: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "shop-ns", "creationTimestamp": created},
        "spec": {
            "odooInstanceRef": {"name": "shop"},
            "schedule": "0 2 * * *",
            "destination": {"bucket": bucket, "prefix": "nightly", "endpoint": "http://s3"},
        },
    }


def test_back_up_first_defaults_to_whether_there_is_a_destination() -> None:
    nightly = [schedule("nightly", "2026-01-01T00:00:00Z", "b")]
    assert backs_up_first(spec(), destination(spec(), "shop-ns", nightly))
    explicit = spec(backupDestination=EXPLICIT)
    assert backs_up_first(explicit, destination(explicit, "shop-ns", []))
    assert not backs_up_first(spec(), destination(spec(), "shop-ns", []))
    assert not backs_up_first(spec(backupFirst=False), destination(spec(), "shop-ns", nightly))
    assert backs_up_first(spec(backupFirst=True), None)  # asked for, and nowhere: admission fails


def test_the_explicit_destination_wins_then_the_oldest_valid_schedule() -> None:
    schedules = [
        schedule("newer", "2026-02-01T00:00:00Z", "newer-bucket"),
        schedule("older", "2026-01-01T00:00:00Z", "older-bucket"),
        {"metadata": {"name": "broken", "namespace": "shop-ns",
                      "creationTimestamp": "2025-01-01T00:00:00Z"}, "spec": {}},
    ]  # fmt: skip
    found = destination(spec(), "shop-ns", schedules)
    assert found is not None
    assert (found.where.bucket, found.origin) == ("older-bucket", "OdooBackupSchedule older")
    found = destination(spec(backupDestination=EXPLICIT), "shop-ns", schedules)
    assert found is not None
    assert (found.where.bucket, found.origin) == ("mine", "spec.backupDestination")


def test_the_backup_is_owned_named_from_the_uid_and_keyed_where_retention_never_looks() -> None:
    found = destination(spec(backupDestination=EXPLICIT), "shop-ns", [])
    assert found is not None
    body = backup_body(UPGRADE, found, WHEN)
    metadata, target = body["metadata"], body["spec"]["destination"]
    assert body["kind"] == "OdooBackupJob"
    assert metadata["name"].startswith("to-18-pre-upgrade-")
    assert metadata["name"] == backup_body(UPGRADE, found, WHEN)["metadata"]["name"]
    other = {**UPGRADE, "metadata": {**UPGRADE["metadata"], "uid": "uid-2"}}
    assert backup_body(other, found, WHEN)["metadata"]["name"] != metadata["name"]
    owner = metadata["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("OdooUpgradeJob", "uid-1", True)
    assert target["objectKey"] == "pre/shop-ns/shop/pre-upgrade/20260301T040506Z-to-18.zip"
    assert target["s3CredentialsSecretRef"] == {"name": "creds", "namespace": "shop-ns"}
    assert (body["spec"]["format"], body["spec"]["withFilestore"]) == ("zip", True)
    # The schedule's retention lists keys under the instance prefix through parse_key.
    assert parse_key(target["objectKey"], instance_prefix("pre", "shop-ns", "shop")) is None


def test_the_rollback_restores_that_object_without_neutralizing() -> None:
    found = destination(spec(backupDestination=EXPLICIT), "shop-ns", [])
    assert found is not None
    backup = backup_body(UPGRADE, found, WHEN)
    body = rollback_body(UPGRADE, backup)
    assert body["kind"] == "OdooRestoreJob"
    assert body["metadata"]["name"].startswith("to-18-rollback-")
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert body["spec"]["source"] == {"type": "s3", "s3": backup["spec"]["destination"]}
    assert (body["spec"]["neutralize"], body["spec"]["format"]) == (False, "zip")
    assert backup_first.backup_location(backup).startswith("s3://mine/pre/shop-ns/shop/")

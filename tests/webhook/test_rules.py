"""The webhook's rules as pure functions: each guarantee of `webhook.rules`, one by one."""

from __future__ import annotations

from typing import Any

import pytest

from odoo_operator.api import KINDS
from odoo_operator.database_names import RESERVED_PREFIXES
from odoo_operator.webhook.rules import RULES, problems


def instance(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "bemade.org/v1alpha1",
        "kind": "OdooInstance",
        "metadata": {"name": "shop"},
        "spec": spec,
    }


def job(kind: str, **spec: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "j"},
        "spec": {"odooInstanceRef": {"name": "shop"}, **spec},
    }


def messages(new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(problem) for problem in problems(new["kind"], new, old)]


def test_every_kind_has_rules() -> None:
    assert sorted(RULES) == sorted(kind.KIND for kind in KINDS)


@pytest.mark.parametrize(
    ("before", "after", "refused"),
    [
        ("10Gi", "5Gi", True),
        ("10Gi", "10239Mi", True),
        ("1G", "999M", True),
        ("10Gi", "10240Mi", False),  # the same size, written differently
        ("10Gi", "11Gi", False),
        ("2Gi", "2G", True),  # 2e9 bytes < 2**31 bytes
        ("2Gi", "3G", False),
    ],
)
def test_storage_size_may_only_grow(before: str, after: str, refused: bool) -> None:
    found = messages(
        instance(filestore={"storageSize": after}), instance(filestore={"storageSize": before})
    )
    expected = [f"spec.filestore.storageSize: may only grow, {before} -> {after}"]
    assert found == (expected if refused else [])


def test_storage_size_may_not_be_removed_once_set() -> None:
    found = messages(instance(filestore={}), instance(filestore={"storageSize": "10Gi"}))
    assert found == ["spec.filestore.storageSize: may not be removed once set (was 10Gi)"]


def test_storage_size_set_on_create_or_first_set_is_admitted() -> None:
    assert messages(instance(filestore={"storageSize": "1Gi"})) == []
    assert messages(instance(filestore={"storageSize": "1Gi"}), instance()) == []


def test_a_size_that_is_not_a_quantity_is_refused_by_name() -> None:
    found = messages(instance(filestore={"storageSize": "1e99"}), instance(replicas=2))
    assert found == ["spec.filestore.storageSize: '1e99': exponent out of range (at most 64)"]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("spec.filestore.storageClass", ("filestore", "storageClass")),
        ("spec.database.cluster", ("database", "cluster")),
        ("spec.database.name", ("database", "name")),
    ],
)
def test_immutable_once_set(field: str, path: tuple[str, str]) -> None:
    group, key = path

    def with_value(value: str | None) -> dict[str, Any]:
        return instance(**{group: {} if value is None else {key: value}})

    assert messages(with_value("odoo_b"), with_value("odoo_a")) == [
        f"{field}: immutable once set, odoo_a -> odoo_b"
    ]
    assert messages(with_value(None), with_value("odoo_a")) == [
        f"{field}: immutable once set, may not be removed (was odoo_a)"
    ]
    assert messages(with_value("odoo_a"), with_value(None)) == []  # the operator fills it in
    assert messages(with_value("odoo_a"), with_value("odoo_a")) == []


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("1shop", "is not a valid PostgreSQL identifier"),
        ("shop-db", "is not a valid PostgreSQL identifier"),
        ("x" * 64, "is longer than 63 bytes"),
        ("postgres", "is reserved: PostgreSQL's own database"),
        ("template1", "is reserved: PostgreSQL's own database"),
        *((f"{prefix}shop", "is reserved: names starting with") for prefix in RESERVED_PREFIXES),
    ],
)
def test_database_name_must_be_usable(name: str, why: str) -> None:
    (found,) = messages(instance(database={"name": name}))
    assert found.startswith(f"spec.database.name: {name!r} {why}")


def test_a_good_database_name_and_the_63_byte_limit_are_admitted() -> None:
    assert messages(instance(database={"name": "odoo_shop"})) == []
    assert messages(instance(database={"name": "x" * 63})) == []


def test_an_update_that_leaves_spec_alone_is_admitted_even_if_spec_breaks_rules() -> None:
    """Finalizer removal on an object admitted before the rules existed must not stick."""
    old = instance(database={"name": "postgres"}, replicas=-1)
    new = {**old, "metadata": {"name": "shop", "finalizers": []}}
    assert messages(new, old) == []


def test_unparseable_objects_name_the_field() -> None:
    found = messages(instance(replicas=-1, extraEnv=[{"value": "x"}]))
    assert found == [
        "spec.replicas: Input should be greater than or equal to 0",
        "spec.extraEnv: not a valid EnvVar list: [0].name: required field is missing",
    ]


def test_restore_source_needs_the_matching_block() -> None:
    assert messages(job("OdooRestoreJob", source={"type": "s3"})) == [
        "spec.source.s3: required when spec.source.type is s3"
    ]
    assert messages(job("OdooRestoreJob", source={"type": "odoo"})) == [
        "spec.source.odoo: required when spec.source.type is odoo"
    ]
    odoo = {"type": "odoo", "odoo": {"url": "https://old.example.com"}}
    assert messages(job("OdooRestoreJob", source=odoo)) == []
    assert messages(job("OdooRestoreJob", source={"type": "ftp"})) == [
        "spec.source.type: Input should be 's3' or 'odoo'"
    ]


def test_backup_needs_a_bucket() -> None:
    destination = {"objectKey": "k", "endpoint": "https://s3.example.com"}
    assert messages(job("OdooBackupJob", destination=destination)) == [
        "spec.destination.bucket: required: the S3 bucket to upload to"
    ]
    assert messages(job("OdooBackupJob", destination={**destination, "bucket": ""})) == [
        "spec.destination.bucket: required: the S3 bucket to upload to"
    ]
    assert messages(job("OdooBackupJob", destination={**destination, "bucket": "b"})) == []


@pytest.mark.parametrize(
    "when", ["2026-01-31T22:00:00", "2026-13-01T10:00:00Z", "tomorrow", "1767225600", 1767225600]
)
def test_upgrade_scheduled_time_must_be_rfc3339_with_a_zone(when: object) -> None:
    (found,) = messages(job("OdooUpgradeJob", scheduledTime=when))
    assert found.startswith(f"spec.scheduledTime: {when!r} is not an RFC 3339 time")


@pytest.mark.parametrize("when", ["2026-01-31T22:00:00Z", "2026-01-31T22:00:00.5+02:00"])
def test_upgrade_scheduled_time_rfc3339_is_admitted(when: str) -> None:
    assert messages(job("OdooUpgradeJob", scheduledTime=when)) == []


def test_a_job_without_its_instance_is_refused() -> None:
    assert messages({"kind": "OdooInitJob", "spec": {}}) == ["spec.odooInstanceRef: Field required"]


def schedule(**spec: Any) -> dict[str, Any]:
    full = {
        "schedule": "30 2 * * *",
        "destination": {"bucket": "b", "endpoint": "https://s3.example.com"},
        **spec,
    }
    return job("OdooBackupSchedule", **full)


def test_a_valid_backup_schedule_is_admitted() -> None:
    assert messages(schedule()) == []
    assert messages(schedule(timeZone="Europe/Paris", retention={"keepDaily": 7})) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"schedule": "0 2 * * * *"},
            "spec.schedule: '0 2 * * * *' has 6 fields; a cron expression has 5: minute hour "
            "day-of-month month day-of-week (e.g. '30 2 * * *')",
        ),
        ({"schedule": "@daily"}, "spec.schedule: '@daily' has 1 fields"),
        ({"schedule": "0 25 * * *"}, "spec.schedule: '0 25 * * *': a value is out of range"),
        (
            {"timeZone": "Mars/Olympus"},
            "spec.timeZone: 'Mars/Olympus' is not an IANA time zone name",
        ),
        (
            {"destination": {"bucket": "", "endpoint": "https://s3.example.com"}},
            "spec.destination.bucket: required: the S3 bucket to upload to",
        ),
        (
            {"retention": {"keepDaily": -1}},
            "spec.retention.keepDaily: must be an integer >= 0, not -1",
        ),
        (
            {"retention": {"keepWeekly": "four"}},
            "spec.retention.keepWeekly: must be an integer >= 0, not 'four'",
        ),
        (
            {"retention": {"keepLast": 0}},
            "spec.retention: keeps nothing but the newest backup",
        ),
    ],
)
def test_backup_schedule_problems_name_the_field(spec: dict[str, Any], expected: str) -> None:
    found = messages(schedule(**spec))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found

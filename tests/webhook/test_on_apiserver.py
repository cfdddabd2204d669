"""The webhook end to end: kubectl -> kube-apiserver -> `odoo-operator run` over TLS.

Edits that break a rule are refused with the webhook's message; allowed edits pass; the
serving certificate is rotated (kubelet-style symlink swap and in-place rewrite) under a
steady load of admission requests, with zero failures, and the new one is served.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import CustomObjectsApi
from kubernetes_asyncio.client.rest import ApiException
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.sandbox.ports import LOOPBACK
from odoo_operator.webhook.paths import path
from tests.kubectl import kubectl
from tests.runtime.helpers import eventually_equal
from tests.webhook.conftest import WebhookOperator
from tests.webhook.helpers import (
    client_context,
    issue,
    rewrite_in_place,
    serial_of,
    served_serial,
    write_like_kubelet,
)

GROUP, VERSION = "bemade.org", "v1alpha1"


def manifest(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> str:
    obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return json.dumps(obj)


def apply(op: WebhookOperator, kind: str, name: str, spec: dict[str, Any]) -> str:
    """`kubectl apply` of the object; returns stderr ("" when it was admitted).

    Client-side validation is off: the API server (schema, then webhook) decides.
    """
    result = kubectl(
        op.kubeconfig,
        "apply",
        "--validate=false",
        "-f",
        "-",
        stdin=manifest(kind, name, op.namespace, spec),
        check=False,
    )
    return "" if result.returncode == 0 else result.stderr


def patch(op: WebhookOperator, name: str, kind: str, patch_type: str, body: object) -> str:
    result = kubectl(
        op.kubeconfig, "-n", op.namespace, "patch", kind, name,
        f"--type={patch_type}", "-p", json.dumps(body), check=False,
    )  # fmt: skip
    return "" if result.returncode == 0 else result.stderr


def assert_denied(stderr: str, message: str) -> None:
    assert "denied the request" in stderr, stderr
    assert message in stderr, stderr


SHOP = {
    "filestore": {"storageSize": "10Gi", "storageClass": "fast"},
    "database": {"cluster": "main", "name": "odoo_shop"},
}


def test_instance_edits_that_break_a_rule_are_refused_and_others_pass(
    webhook_operator: WebhookOperator,
) -> None:
    op = webhook_operator
    assert apply(op, "OdooInstance", "shop", SHOP) == ""
    kind = "odooinstance"

    def merge(spec: dict[str, Any]) -> str:
        return patch(op, "shop", kind, "merge", {"spec": spec})

    def remove(pointer: str) -> str:
        return patch(op, "shop", kind, "json", [{"op": "remove", "path": pointer}])

    assert_denied(
        merge({"filestore": {"storageSize": "5Gi"}}),
        "spec.filestore.storageSize: may only grow, 10Gi -> 5Gi",
    )
    assert_denied(
        remove("/spec/filestore/storageSize"),
        "spec.filestore.storageSize: may not be removed once set (was 10Gi)",
    )
    assert_denied(
        merge({"filestore": {"storageClass": "slow"}}),
        "spec.filestore.storageClass: immutable once set, fast -> slow",
    )
    assert_denied(
        remove("/spec/filestore/storageClass"),
        "spec.filestore.storageClass: immutable once set, may not be removed (was fast)",
    )
    assert_denied(
        merge({"database": {"cluster": "other"}}),
        "spec.database.cluster: immutable once set, main -> other",
    )
    assert_denied(
        remove("/spec/database/cluster"),
        "spec.database.cluster: immutable once set, may not be removed (was main)",
    )
    assert_denied(
        merge({"database": {"name": "odoo_other"}}),
        "spec.database.name: immutable once set, odoo_shop -> odoo_other",
    )
    # allowed: growth (also written differently), other fields, metadata
    assert merge({"filestore": {"storageSize": "10240Mi"}}) == ""
    assert merge({"filestore": {"storageSize": "20Gi"}, "replicas": 2}) == ""
    assert patch(op, "shop", kind, "merge", {"metadata": {"labels": {"team": "a"}}}) == ""
    spec = kubectl(op.kubeconfig, "-n", op.namespace, "get", kind, "shop", "-o", "json").stdout
    assert json.loads(spec)["spec"]["filestore"] == {"storageSize": "20Gi", "storageClass": "fast"}


def test_unset_fields_may_be_set_once(webhook_operator: WebhookOperator) -> None:
    """What the operator does on first reconcile: fill cluster, name, class and size in."""
    op = webhook_operator
    assert apply(op, "OdooInstance", "fresh", {}) == ""
    assert apply(op, "OdooInstance", "fresh", SHOP) == ""


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("odoo_restore_shop", "spec.database.name: 'odoo_restore_shop' is reserved"),
        ("odoo_previous_shop", "spec.database.name: 'odoo_previous_shop' is reserved"),
        ("template1", "spec.database.name: 'template1' is reserved: PostgreSQL's own database"),
    ],
)
def test_reserved_database_names_are_refused(
    webhook_operator: WebhookOperator, name: str, message: str
) -> None:
    stderr = apply(webhook_operator, "OdooInstance", "reserved", {"database": {"name": name}})
    assert_denied(stderr, message)


REF = {"odooInstanceRef": {"name": "shop"}}
S3 = {"bucket": "b", "objectKey": "k", "endpoint": "https://s3.example.com"}


def test_malformed_job_resources_are_refused(webhook_operator: WebhookOperator) -> None:
    op = webhook_operator
    assert_denied(
        apply(op, "OdooRestoreJob", "r1", {**REF, "source": {"type": "s3"}}),
        "spec.source.s3: required when spec.source.type is s3",
    )
    assert_denied(
        apply(op, "OdooRestoreJob", "r2", {**REF, "source": {"type": "odoo"}}),
        "spec.source.odoo: required when spec.source.type is odoo",
    )
    assert apply(op, "OdooRestoreJob", "r3", {**REF, "source": {"type": "s3", "s3": S3}}) == ""
    assert apply(op, "OdooUpgradeJob", "u2", {**REF, "scheduledTime": "2026-01-31T22:00:00Z"}) == ""
    assert apply(op, "OdooInitJob", "i1", REF) == ""


def test_malformed_backup_schedules_are_refused(webhook_operator: WebhookOperator) -> None:
    op = webhook_operator
    good = {
        **REF,
        "schedule": "30 2 * * *",
        "timeZone": "America/Montreal",
        "destination": {"bucket": "b", "endpoint": "https://s3.example.com"},
        "retention": {"keepDaily": 7, "keepWeekly": 4, "keepMonthly": 3},
    }
    assert apply(op, "OdooBackupSchedule", "nightly", good) == ""
    assert_denied(
        apply(op, "OdooBackupSchedule", "s1", {**good, "schedule": "0 2 * * * *"}),
        "spec.schedule: '0 2 * * * *' has 6 fields; a cron expression has 5",
    )
    assert_denied(
        apply(op, "OdooBackupSchedule", "s2", {**good, "timeZone": "Mars/Olympus"}),
        "spec.timeZone: 'Mars/Olympus' is not an IANA time zone name",
    )
    assert_denied(
        apply(op, "OdooBackupSchedule", "s3", {**good, "retention": {"keepLast": 0}}),
        "spec.retention: keeps nothing but the newest backup",
    )
    # An edit is checked too: the admitted schedule cannot take a bad expression.
    assert_denied(
        patch(op, "nightly", "backupschedule", "merge", {"spec": {"schedule": "@hourly"}}),
        "spec.schedule: '@hourly' has 1 fields",
    )
    # A negative count never reaches the webhook: the CRD schema's minimum refuses it.
    stderr = apply(op, "OdooBackupSchedule", "s4", {**good, "retention": {"keepDaily": -1}})
    assert "spec.retention.keepDaily" in stderr
    assert "greater than or equal to 0" in stderr


def test_rules_the_crd_schema_enforces_first_are_refused_there(
    webhook_operator: WebhookOperator,
) -> None:
    """A missing bucket, a bad name or time never reach the webhook: the API server's schema
    validation refuses them first (our own message for them is tested in test_rules)."""
    op = webhook_operator
    no_bucket = {k: v for k, v in S3.items() if k != "bucket"}
    stderr = apply(op, "OdooBackupJob", "b1", {**REF, "destination": no_bucket})
    assert "spec.destination.bucket: Required value" in stderr, stderr
    stderr = apply(op, "OdooInstance", "badname", {"database": {"name": "1shop"}})
    assert "spec.database.name" in stderr, stderr
    for when in ("soon", "2026-01-31T22:00:00"):  # no time zone: RFC 3339 wants one
        stderr = apply(op, "OdooUpgradeJob", "u3", {**REF, "scheduledTime": when})
        assert "spec.scheduledTime in body must be of type date-time" in stderr, stderr


async def test_certificate_rotation_under_load_fails_no_request(
    webhook_operator: WebhookOperator,
) -> None:
    """Two loads run while the certificate is rotated four times: admission requests
    through the API server (which keeps its connections), and reviews posted straight to
    the webhook on a new TLS connection each (a handshake during every swap)."""
    op = webhook_operator
    failures: list[str] = []
    counts = {"apiserver": 0, "direct": 0}
    stop = asyncio.Event()
    client = await new_client_from_config(config_file=str(op.kubeconfig))

    async def through_apiserver(worker: int) -> None:
        objects = CustomObjectsApi(client)
        while not stop.is_set():
            body = json.loads(manifest("OdooInstance", f"load-{worker}", op.namespace, SHOP))
            try:
                await objects.create_namespaced_custom_object(
                    GROUP, VERSION, op.namespace, "odooinstances", body,
                    dry_run="All", _request_timeout=30,
                )  # fmt: skip
                counts["apiserver"] += 1
            except ApiException as error:
                failures.append(f"apiserver: {error.status} {error.body}")

    async def direct() -> None:
        url = f"https://{LOOPBACK}:{op.port}{path('OdooInstance')}"
        connector = aiohttp.TCPConnector(ssl=client_context(op.ca), force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            while not stop.is_set():
                review = {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {
                        "uid": str(uuid.uuid4()), "operation": "CREATE",
                        "kind": {"group": GROUP, "version": VERSION, "kind": "OdooInstance"},
                        "object": json.loads(manifest("OdooInstance", "d", op.namespace, SHOP)),
                    },
                }  # fmt: skip
                try:
                    async with session.post(url, json=review) as response:
                        answer = await response.json()
                    assert answer["response"]["allowed"] is True, answer
                    counts["direct"] += 1
                except (aiohttp.ClientError, AssertionError) as error:
                    failures.append(f"direct: {error!r}")

    loads = [asyncio.create_task(through_apiserver(n)) for n in range(3)]
    loads.append(asyncio.create_task(direct()))
    started = time.monotonic()
    served_during: list[dict[str, int]] = []
    try:
        for rotation in range(4):
            before = dict(counts)
            new = issue(op.ca)
            if rotation % 2:
                rewrite_in_place(op.cert_dir / "..data", new)
            else:
                write_like_kubelet(op.cert_dir, new)
            await eventually_equal(lambda: served_serial(op.port, op.ca), serial_of(new))
            # let each load get a few requests through with the new certificate
            await eventually_equal(
                lambda before=before: _both_moved(before, counts, 5), True, within=30
            )
            served_during.append({k: counts[k] - before[k] for k in counts})
    finally:
        stop.set()
        await asyncio.gather(*loads)
        await client.close()
    elapsed = time.monotonic() - started
    print(f"rotation under load: {counts} requests in {elapsed:.1f} s, {served_during}")
    assert failures == []
    assert all(window["apiserver"] >= 5 and window["direct"] >= 5 for window in served_during)


async def _both_moved(before: dict[str, int], now: dict[str, int], by: int) -> bool:
    return all(now[k] - before[k] >= by for k in before)


def test_admissions_are_counted_by_kind_and_result(webhook_operator: WebhookOperator) -> None:
    op = webhook_operator
    s3 = {"type": "s3", "s3": S3}
    assert apply(op, "OdooRestoreJob", "counted", {**REF, "source": s3}) == ""
    assert apply(op, "OdooRestoreJob", "counted-bad", {**REF, "source": {"type": "s3"}}) != ""
    with urllib.request.urlopen(op.metrics, timeout=10) as response:  # noqa: S310 - loopback
        scraped = response.read().decode()
    for result in ("allowed", "denied"):
        labels = f'kind="OdooRestoreJob",result="{result}"'
        assert f"odoo_operator_webhook_admissions_total{{{labels}}}" in scraped

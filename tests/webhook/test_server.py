"""The webhook server as `add_webhook` builds it, over real TLS on loopback: what it
answers to good, bad and hostile requests, and how it reloads its certificate."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client import CollectorRegistry

from odoo_operator.runtime.manager import ConfigurationError, Manager
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.runtime.server import BindAddress, HttpServer
from odoo_operator.sandbox.certs import CertificateAuthority
from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.webhook import app as webhook_app
from odoo_operator.webhook.paths import path
from odoo_operator.webhook.server import add_webhook
from tests.runtime.helpers import eventually, eventually_equal
from tests.webhook.helpers import (
    client_context,
    issue,
    rewrite_in_place,
    serial_of,
    served_serial,
    write_like_kubelet,
)

INSTANCE_PATH = path("OdooInstance")


@dataclass
class Served:
    manager: Manager
    server: HttpServer
    ca: CertificateAuthority
    cert_dir: Path

    @property
    def base(self) -> str:
        return f"https://{LOOPBACK}:{self.server.port}"

    def admissions(self, kind: str, result: str) -> float:
        value = self.manager.metrics.registry.get_sample_value(
            f"{webhook_app.ADMISSIONS_METRIC}", {"kind": kind, "result": result}
        )
        return value or 0.0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    ca = CertificateAuthority("webhook server test CA")
    cert_dir = tmp_path / "certs"
    write_like_kubelet(cert_dir, issue(ca))
    options = ManagerOptions(metrics_bind_address="0", health_probe_bind_address="0")
    manager = Manager(options)
    server = add_webhook(manager, free_port(), cert_dir)
    assert server is not None
    await server.start()
    try:
        yield Served(manager, server, ca, cert_dir)
    finally:
        await server.stop()


def review(obj: dict[str, Any] | None, *, operation: str = "CREATE", kind: str = "OdooInstance",
           old: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "bemade.org", "version": "v1alpha1", "kind": kind},
        "operation": operation,
        "namespace": "shop",
        "name": "shop",
        "object": obj,
    }
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def instance(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "bemade.org/v1alpha1", "kind": "OdooInstance",
            "metadata": {"name": "shop"}, "spec": spec}  # fmt: skip


async def post(served: Served, body: bytes, route: str = INSTANCE_PATH) -> tuple[int, str]:
    connector = aiohttp.TCPConnector(ssl=client_context(served.ca))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(served.base + route, data=body) as response,
    ):
        return response.status, await response.text()


async def admit(served: Served, body: dict[str, Any], route: str = INSTANCE_PATH) -> dict[str, Any]:
    status, text = await post(served, json.dumps(body).encode(), route)
    assert status == 200, text
    answer: dict[str, Any] = json.loads(text)["response"]
    assert answer["uid"] == body["request"]["uid"]
    return answer


async def test_a_good_object_is_allowed_and_a_bad_one_denied_with_every_problem(
    served: Served,
) -> None:
    assert (await admit(served, review(instance(replicas=1))))["allowed"] is True
    old = instance(filestore={"storageSize": "10Gi"}, database={"cluster": "a"})
    new = instance(filestore={"storageSize": "5Gi"}, database={"cluster": "b"})
    answer = await admit(served, review(new, operation="UPDATE", old=old))
    assert answer["allowed"] is False
    assert answer["status"] == {
        "code": 403,
        "reason": "Forbidden",
        "message": "spec.filestore.storageSize: may only grow, 10Gi -> 5Gi; "
        "spec.database.cluster: immutable once set, a -> b",
    }
    assert served.admissions("OdooInstance", "allowed") == 1
    assert served.admissions("OdooInstance", "denied") == 1


async def test_every_kind_has_its_path(served: Served) -> None:
    restore = {"kind": "OdooRestoreJob", "metadata": {"name": "r"},
               "spec": {"odooInstanceRef": {"name": "shop"}, "source": {"type": "s3"}}}  # fmt: skip
    answer = await admit(served, review(restore, kind="OdooRestoreJob"), path("OdooRestoreJob"))
    assert answer["status"]["message"] == "spec.source.s3: required when spec.source.type is s3"
    wrong = await admit(served, review(restore, kind="OdooRestoreJob"), path("OdooBackupJob"))
    assert (
        wrong["status"]["message"]
        == "this webhook path validates OdooBackupJob, not OdooRestoreJob"
    )


async def test_delete_and_subresources_are_not_checked(served: Served) -> None:
    broken = instance(replicas=-1)
    assert (await admit(served, review(broken, operation="DELETE")))["allowed"] is True
    status_write = review(broken, operation="UPDATE", old=instance())
    status_write["request"]["subResource"] = "status"
    assert (await admit(served, status_write))["allowed"] is True


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not an AdmissionReview: body is not JSON"),
        (b"[]", "not an AdmissionReview: body is not a JSON object"),
        (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}',
         "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
         "request is missing"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}',
         "request.uid is missing"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not JSON"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
         b'{"uid": "u", "operation": "CREATE", "kind": {"kind": "OdooInstance"}, "object": 7}}',
         "request.object must be a JSON object"),
    ],
)  # fmt: skip
async def test_malformed_reviews_get_400_with_the_reason(
    served: Served, body: bytes, reason: str
) -> None:
    status, text = await post(served, body)
    assert (status, reason in text) == (400, True), text
    assert served.admissions("OdooInstance", "invalid") == 1
    assert (await admit(served, review(instance())))["allowed"] is True  # still serving


async def test_an_oversized_review_gets_413(served: Served) -> None:
    padding = "x" * (webhook_app.MAX_BODY_BYTES + 1)
    body = json.dumps(review(instance(configOptions={"pad": padding}))).encode()
    status, text = await post(served, body)
    assert status == 413, text
    assert "body larger than" in text
    assert (await admit(served, review(instance())))["allowed"] is True


async def test_a_review_as_large_as_two_big_objects_is_answered(served: Served) -> None:
    big = instance(configOptions={"pad": "x" * (2 * 1024 * 1024)})
    answer = await admit(served, review(big, operation="UPDATE", old=big))
    assert answer["allowed"] is True


async def test_an_unparseable_object_is_denied_naming_the_field(served: Served) -> None:
    answer = await admit(served, review(instance(replicas="many")))
    assert answer["status"]["message"] == (
        "spec.replicas: Input should be a valid integer, unable to parse string as an integer"
    )


async def test_a_body_that_never_arrives_gets_408() -> None:
    """A client that sends headers and then stalls is cut off, and others are served."""
    registry = CollectorRegistry()
    app = webhook_app.webhook_app(webhook_app.admissions_counter(registry), read_timeout=0.5)
    server = HttpServer("webhook", BindAddress(LOOPBACK, 0), app)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, server.port)
        writer.write(
            f"POST {INSTANCE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{{".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        writer.close()
    finally:
        await server.stop()
    labels = {"kind": "OdooInstance", "result": "invalid"}
    assert registry.get_sample_value(webhook_app.ADMISSIONS_METRIC, labels) == 1


async def test_readyz_checks_the_tls_handshake(served: Served) -> None:
    (result,) = await served.manager.readyz.run(["webhook"])
    assert result.ok, result.message
    await served.server.stop()
    (result,) = await served.manager.readyz.run(["webhook"])
    assert not result.ok


async def test_a_certificate_swapped_like_the_kubelet_does_is_served_without_restart(
    served: Served,
) -> None:
    for _ in range(2):
        new = issue(served.ca)
        write_like_kubelet(served.cert_dir, new)
        await eventually_equal(lambda: served_serial(served.server.port, served.ca), serial_of(new))
        assert (await admit(served, review(instance())))["allowed"] is True


async def test_a_half_rewritten_pair_keeps_the_old_certificate_until_the_key_follows(
    tmp_path: Path,
) -> None:
    ca = CertificateAuthority("webhook in-place rewrite CA")
    first, second = issue(ca), issue(ca)
    first.write(tmp_path)
    manager = Manager(ManagerOptions(metrics_bind_address="0", health_probe_bind_address="0"))
    server = add_webhook(manager, free_port(), tmp_path)
    assert server is not None
    assert server.address.port is not None
    port = server.address.port
    await server.start()
    try:
        with structlog.testing.capture_logs() as logs:
            (tmp_path / "tls.crt").write_bytes(second.cert_pem)  # the key does not match yet
            await eventually(
                lambda: any(
                    e["event"].startswith("webhook certificate not reloaded") for e in logs
                ),
                what="a failed reload",
            )
            assert await served_serial(port, ca) == serial_of(first)
            rewrite_in_place(tmp_path, second)
            await eventually_equal(lambda: served_serial(port, ca), serial_of(second))
        assert [e["event"] for e in logs] == [
            "webhook certificate not reloaded; still serving the previous one",
            "webhook certificate reloaded",
        ]
    finally:
        await server.stop()


def test_a_missing_certificate_stops_start_up_naming_the_flag(tmp_path: Path) -> None:
    manager = Manager(ManagerOptions(metrics_bind_address="0", health_probe_bind_address="0"))
    with pytest.raises(ConfigurationError, match=r"--webhook-cert-dir .*tls\.crt"):
        add_webhook(manager, free_port(), tmp_path)
    assert add_webhook(manager, 0, tmp_path) is None  # port 0: no webhook, no check
    assert "webhook" not in manager.readyz.names()

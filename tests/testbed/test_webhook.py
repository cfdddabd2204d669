"""The apiserver calls a validating webhook on loopback over TLS and honours its answer."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from kubernetes_asyncio.client import AdmissionregistrationV1Api, ApiClient, CoreV1Api
from kubernetes_asyncio.client.rest import ApiException

from odoo_operator.sandbox.certs import CertificateAuthority
from odoo_operator.sandbox.ports import LOOPBACK, free_port

DENY_MESSAGE = "metadata.labels.deny: the test webhook refuses objects labelled deny=yes"


@pytest.fixture
async def webhook_server(tmp_path: Path) -> AsyncIterator[tuple[str, bytes, list[str]]]:
    """An HTTPS AdmissionReview server; yields (url, caBundle, names it was asked about)."""
    ca = CertificateAuthority("webhook test CA")
    ca.issue_serving(["localhost"], [LOOPBACK]).write(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    reviewed: list[str] = []

    async def validate(request: web.Request) -> web.Response:
        review = await request.json()
        obj = review["request"]["object"]
        reviewed.append(obj["metadata"]["name"])
        denied = obj["metadata"].get("labels", {}).get("deny") == "yes"
        response = {"uid": review["request"]["uid"], "allowed": not denied}
        if denied:
            response["status"] = {"code": 403, "message": DENY_MESSAGE}
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )

    app = web.Application()
    app.router.add_post("/validate", validate)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOOPBACK, port, ssl_context=context).start()
    try:
        yield f"https://{LOOPBACK}:{port}/validate", ca.cert_pem, reviewed
    finally:
        await runner.cleanup()


async def test_apiserver_honours_webhook_denial(
    api_client: ApiClient, namespace: str, webhook_server: tuple[str, bytes, list[str]]
) -> None:
    url, ca_bundle, reviewed = webhook_server
    core = CoreV1Api(api_client)
    await core.patch_namespace(
        namespace,
        {"metadata": {"labels": {"webhook-test": namespace}}},
        _content_type="application/merge-patch+json",
        _request_timeout=30,
    )
    config_name = f"bed-{namespace}"
    admission = AdmissionregistrationV1Api(api_client)
    await admission.create_validating_webhook_configuration(
        {
            "metadata": {"name": config_name},
            "webhooks": [
                {
                    "name": "bed.testbed.example.com",
                    "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_bundle).decode()},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"webhook-test": namespace}},
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 5,
                }
            ],
        },
        _request_timeout=30,
    )
    try:
        with pytest.raises(ApiException) as denied:
            await core.create_namespaced_config_map(
                namespace,
                {"metadata": {"name": "no", "labels": {"deny": "yes"}}},
                _request_timeout=30,
            )
        assert denied.value.status == 403
        assert DENY_MESSAGE in denied.value.body
        await core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "fine"}}, _request_timeout=30
        )
        assert reviewed == ["no", "fine"]
    finally:
        await admission.delete_validating_webhook_configuration(config_name, _request_timeout=30)

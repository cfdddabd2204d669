"""What an installation puts into a cluster, done against the sandbox, and proof it answers.

- `install_crds`: our generated CRDs (`odoo_operator.api.crd`), applied server-side;
  returns once each is Established and the API server's discovery lists every kind, so
  a client applying an OdooInstance right after never gets "no matches for kind";
- `ensure_namespace`, `ensure_secret`, `create_bucket`: the operator namespace, the
  clusters and S3 credentials Secrets, the backup bucket;
- `register_webhook`: the operator's ValidatingWebhookConfiguration;
- `wait_until_admission_answers`: returns once an admission request sent through the
  API server (a server-side dry run, nothing is stored) is denied by our webhook with
  the rules' own message, which proves the whole path: API server -> configuration ->
  TLS with the CA bundle -> the operator's rules;
- `wait_until_lease_held`: returns once the operator's leader Lease has a holder.

Every wait polls a condition (every `POLL` seconds) until a deadline and then fails
naming what it saw last.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes_asyncio.client import (
    AdmissionregistrationV1Api,
    ApiClient,
    ApiextensionsV1Api,
    CoordinationV1Api,
    CoreV1Api,
    CustomObjectsApi,
)
from kubernetes_asyncio.client.rest import ApiException

from odoo_operator.api import GROUP, VERSION, OdooInstance
from odoo_operator.api.crd import all_crds
from odoo_operator.sandbox.s3 import S3Server
from odoo_operator.webhook.rules import problems

FIELD_MANAGER = "odoo-operator-sandbox"
REQUEST_TIMEOUT = 30
POLL = 0.1
WAIT_TIMEOUT = 60.0
APPLY = "application/apply-patch+yaml"

# An OdooInstance the webhook must deny (PostgreSQL's own database), sent as a dry run.
ADMISSION_PROBE_NAME = "sandbox-admission-probe"


class InstallError(RuntimeError):
    """A step did not complete in time; the message says what was seen last."""


async def _until(check: Callable[[], Awaitable[tuple[bool, str]]], what: str) -> None:
    """Poll `check` (-> done, what it saw) until done; InstallError after `WAIT_TIMEOUT`."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        done, seen = await check()
        if done:
            return
        if time.monotonic() > deadline:
            raise InstallError(f"{what}: not within {WAIT_TIMEOUT:.0f}s; last seen: {seen}")
        await asyncio.sleep(POLL)


def error_text(error: ApiException) -> str:
    """The API server's answer as text (the client keeps it as bytes or str)."""
    body = error.body
    return body.decode(errors="replace") if isinstance(body, bytes) else str(body)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


async def install_crds(api: ApiClient) -> None:
    extensions = ApiextensionsV1Api(api)
    crds = all_crds()
    for crd in crds:
        await extensions.patch_custom_resource_definition(
            crd["metadata"]["name"],
            crd,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY,
            _request_timeout=REQUEST_TIMEOUT,
        )
    names = {crd["metadata"]["name"] for crd in crds}
    plurals = {crd["spec"]["names"]["plural"] for crd in crds}

    async def established() -> tuple[bool, str]:
        listed = await extensions.list_custom_resource_definition(_request_timeout=REQUEST_TIMEOUT)
        ready = {
            item.metadata.name
            for item in listed.items
            if any(
                c.type == "Established" and c.status == "True" for c in item.status.conditions or ()
            )
        }
        return names <= ready, f"established: {sorted(ready & names)}"

    async def discovered() -> tuple[bool, str]:
        try:
            found = await CustomObjectsApi(api).get_api_resources(
                GROUP, VERSION, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as error:
            return False, f"discovery of {GROUP}/{VERSION}: {error.status}"
        served = {resource.name for resource in found.resources}
        return plurals <= served, f"discovery lists {sorted(served)}"

    await _until(established, "our CRDs Established")
    await _until(discovered, f"{GROUP}/{VERSION} in discovery")


async def ensure_namespace(api: ApiClient, name: str) -> None:
    try:
        await CoreV1Api(api).create_namespace(
            {"metadata": {"name": name}}, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as error:
        if error.status != 409:
            raise


async def ensure_secret(api: ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in data.items()},
    }
    core = CoreV1Api(api)
    try:
        await core.create_namespaced_secret(namespace, body, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status != 409:
            raise
        await core.replace_namespaced_secret(
            name, namespace, body, _request_timeout=REQUEST_TIMEOUT
        )


async def create_bucket(s3: S3Server, bucket: str) -> None:
    async with s3.client() as client:
        await client.create_bucket(Bucket=bucket)


async def register_webhook(api: ApiClient, configuration: dict[str, Any]) -> None:
    await AdmissionregistrationV1Api(api).patch_validating_webhook_configuration(
        configuration["metadata"]["name"],
        configuration,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type=APPLY,
        _request_timeout=REQUEST_TIMEOUT,
    )


def admission_probe(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": OdooInstance.KIND,
        "metadata": {"name": ADMISSION_PROBE_NAME, "namespace": namespace},
        "spec": {"database": {"name": "postgres"}},
    }


async def wait_until_admission_answers(api: ApiClient, namespace: str) -> None:
    """A dry-run create that our webhook denies, until the API server says it did."""
    probe = admission_probe(namespace)
    expected = [str(problem) for problem in problems(OdooInstance.KIND, probe, None)]
    assert expected, "the admission probe must break a webhook rule"
    objects = CustomObjectsApi(api)

    async def denied_by_webhook() -> tuple[bool, str]:
        try:
            await objects.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                OdooInstance.PLURAL,
                probe,
                dry_run="All",
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as error:
            body = error_text(error)
            return ("denied the request" in body and expected[0] in body), body
        return False, "admitted (the API server does not call the webhook yet)"

    await _until(denied_by_webhook, "the webhook answering through the API server")


async def wait_until_lease_held(api: ApiClient, namespace: str, name: str) -> None:
    coordination = CoordinationV1Api(api)

    async def held() -> tuple[bool, str]:
        try:
            lease = await coordination.read_namespaced_lease(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as error:
            if error.status != 404:
                raise
            return False, "no Lease yet"
        holder = lease.spec.holder_identity if lease.spec else None
        return bool(holder), f"holder {holder!r}"

    await _until(held, f"Lease {namespace}/{name} held by the operator")

"""The generated CRDs on a real kube-apiserver 1.20: accepted, defaulted, validated, explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    CustomObjectsApi,
)
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.api.crd import CRD_KINDS
from tests.kubectl import kubectl, kubectl_explain, kubectl_json

pytestmark = pytest.mark.usefixtures("installed_crds")

TIMEOUT = 30

# The seed README's examples, verbatim (section "3. Deploy an Odoo instance").
SEED_ODOO_YAML = """\
apiVersion: bemade.org/v1alpha1
kind: OdooInstance
metadata:
  name: myodoo
  namespace: odoo
spec:
  image: odoo:18.0
  adminPassword: changeme
  replicas: 1
  ingress:
    hosts:
      - myodoo.example.com
"""
NAMESPACE_ODOO = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: odoo\n"
SEED_INIT_YAML = """\
apiVersion: bemade.org/v1alpha1
kind: OdooInitJob
metadata:
  name: myodoo-init
  namespace: odoo
spec:
  odooInstanceRef:
    name: myodoo
"""


@pytest.fixture
def objects(api_client: ApiClient) -> CustomObjectsApi:
    return CustomObjectsApi(api_client)


async def create(
    api: CustomObjectsApi, namespace: str, plural: str, body: dict[str, Any]
) -> dict[str, Any]:
    created: dict[str, Any] = await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body, _request_timeout=TIMEOUT
    )
    return created


def instance(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OdooInstance",
        "metadata": {"name": name},
        "spec": spec,
    }


def rejection(error: ApiException) -> tuple[int, str]:
    body = json.loads(error.body)
    causes = " ".join(cause.get("field", "") for cause in body.get("details", {}).get("causes", []))
    return error.status, f"{body['message']} {causes}"


async def test_every_crd_is_established_with_its_short_name(api_client: ApiClient) -> None:
    api = ApiextensionsV1Api(api_client)
    for kind in CRD_KINDS:
        crd = await api.read_custom_resource_definition(kind.name, _request_timeout=TIMEOUT)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("Established") == "True", kind.name
        assert conditions.get("NamesAccepted") == "True", kind.name
        assert list(crd.status.accepted_names.short_names) == list(kind.short_names)


async def test_seed_readme_examples_are_accepted_verbatim(
    api_client: ApiClient, installed_crds: Path
) -> None:
    # The examples name namespace `odoo`; apply it too (idempotent: the server is shared).
    kubectl(installed_crds, "apply", "--server-side", "-f", "-", stdin=NAMESPACE_ODOO)
    for text in (SEED_ODOO_YAML, SEED_INIT_YAML):
        kubectl(installed_crds, "apply", "--server-side", "-f", "-", stdin=text)
    odoo = kubectl_json(installed_crds, "get", "odooinstance", "myodoo", "-n", "odoo")
    assert odoo["spec"]["ingress"]["hosts"] == ["myodoo.example.com"]
    assert odoo["spec"]["adminPassword"] == "changeme"
    init = kubectl_json(installed_crds, "get", "odooinitjob", "myodoo-init", "-n", "odoo")
    assert init["spec"] == {
        "odooInstanceRef": {"name": "myodoo"},
        "modules": ["base"],
        "demo": False,
    }


async def test_server_fills_spec_defaults_but_not_operator_defaults(
    objects: CustomObjectsApi, namespace: str
) -> None:
    created = await create(
        objects,
        namespace,
        "odooinstances",
        instance("defaults", {"strategy": {}, "probes": {}, "init": {}, "cron": {}}),
    )
    spec = created["spec"]
    assert spec["replicas"] == 1
    assert spec["environment"] == "Staging"
    assert spec["strategy"] == {"type": "Recreate"}
    assert set(spec["probes"].values()) == {"/web/health"}
    assert spec["init"] == {"enabled": True, "modules": ["base"], "demo": False}
    assert spec["cron"] == {"replicas": 1}
    # Filled by the operator from its flags on first reconcile, never by the server:
    for field in ("image", "database", "filestore", "resources", "affinity", "tolerations"):
        assert field not in spec


async def test_server_fills_job_defaults(objects: CustomObjectsApi, namespace: str) -> None:
    ref = {"odooInstanceRef": {"name": "x"}}
    s3 = {"bucket": "b", "objectKey": "k", "endpoint": "http://s3.local"}
    backup = await create(
        objects,
        namespace,
        "odoobackupjobs",
        {
            "kind": "OdooBackupJob",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"name": "b"},
            "spec": {**ref, "destination": s3},
        },
    )
    assert backup["spec"]["format"] == "zip"
    assert backup["spec"]["withFilestore"] is True
    assert backup["spec"]["destination"]["insecure"] is False
    restore = await create(
        objects,
        namespace,
        "odoorestorejobs",
        {
            "kind": "OdooRestoreJob",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"name": "r"},
            "spec": {**ref, "source": {"type": "s3", "s3": s3}},
        },
    )
    assert restore["spec"]["format"] == "zip"
    assert restore["spec"]["neutralize"] is True
    upgrade = await create(
        objects,
        namespace,
        "odooupgradejobs",
        {
            "kind": "OdooUpgradeJob",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"name": "u"},
            "spec": ref,
        },
    )
    assert upgrade["spec"] == ref  # neither modules nor modulesInstall: -u all


async def test_backup_schedule_defaults_and_columns(
    objects: CustomObjectsApi, namespace: str, installed_crds: Path
) -> None:
    spec = {
        "odooInstanceRef": {"name": "shop"},
        "schedule": "30 2 * * *",
        "destination": {"bucket": "b", "endpoint": "http://s3.local"},
    }
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OdooBackupSchedule",
        "metadata": {"name": "nightly"},
        "spec": spec,
    }
    created = await create(objects, namespace, "odoobackupschedules", body)
    assert created["spec"] == {
        **spec,
        "destination": {**spec["destination"], "prefix": "", "insecure": False},
        "format": "zip",
        "withFilestore": True,
        "verify": False,
        "suspend": False,
        "concurrencyPolicy": "Forbid",
    }  # no retention: every backup is kept
    await objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "odoobackupschedules",
        "nightly",
        {
            "status": {
                "lastSuccessfulBackup": {"key": "k", "time": "2026-01-31T02:30:00Z"},
                "lastVerified": {"key": "k", "time": "2026-01-31T02:40:00Z", "result": "Passed"},
            }
        },
        _content_type="application/merge-patch+json",
        _request_timeout=TIMEOUT,
    )
    table = kubectl(installed_crds, "get", "backupschedule", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "TARGET", "SCHEDULE", "LAST", "BACKUP", "VERIFIED", "AGE"]
    row = table[1]
    assert row.split()[:2] == ["nightly", "shop"]
    assert "30 2 * * *" in row
    assert "Passed" in row


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"replicas": "three"}, "spec.replicas", "integer"),
        ({"replicas": -1}, "spec.replicas", "0"),
        ({"environment": "Testing"}, "spec.environment", "Unsupported value"),
        ({"strategy": {"type": "BlueGreen"}}, "spec.strategy.type", "Unsupported value"),
        # 1.20 names list items without their index.
        ({"tolerations": [{"tolerationSeconds": "soon"}]}, "tolerationSeconds", "integer"),
        ({"resources": {"limits": {"cpu": "lots"}}}, "spec.resources.limits.cpu", "match"),
        ({"filestore": {"storageSize": "big"}}, "spec.filestore.storageSize", "match"),
        ({"ingress": {}}, "spec.ingress.hosts", "Required"),
        ({"database": {"name": "odoo-db"}}, "spec.database.name", "match"),
    ],
)
async def test_invalid_values_are_rejected_with_422_naming_the_field(
    objects: CustomObjectsApi, namespace: str, spec: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ApiException) as caught:
        await create(objects, namespace, "odooinstances", instance("bad", spec))
    status, message = rejection(caught.value)
    assert status == 422
    assert field in message
    assert words in message


async def test_invalid_job_enum_is_rejected_naming_the_field(
    objects: CustomObjectsApi, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OdooRestoreJob",
        "metadata": {"name": "bad"},
        "spec": {"odooInstanceRef": {"name": "x"}, "source": {"type": "ftp"}},
    }
    with pytest.raises(ApiException) as caught:
        await create(objects, namespace, "odoorestorejobs", body)
    status, message = rejection(caught.value)
    assert status == 422
    assert "spec.source.type" in message
    assert "Unsupported value" in message


def test_kubectl_explain_prints_our_descriptions(installed_crds: Path) -> None:
    explained = kubectl_explain(installed_crds, "odooinstance.spec.filestore")
    assert "Persistent storage for the filestore." in explained
    assert "storageSize" in explained
    assert "PVC size, may only grow" in explained
    affinity = kubectl_explain(installed_crds, "odooinstance.spec.affinity.nodeAffinity")
    assert "requiredDuringSchedulingIgnoredDuringExecution" in affinity  # Kubernetes' own text


async def test_kubectl_get_shows_the_printer_columns(
    objects: CustomObjectsApi, namespace: str, installed_crds: Path
) -> None:
    await create(objects, namespace, "odooinstances", instance("shop", {"image": "odoo:17.0"}))
    await objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "odooinstances",
        "shop",
        {"status": {"phase": "Running", "readyReplicas": 1, "url": "https://shop.example.com"}},
        _content_type="application/merge-patch+json",
        _request_timeout=TIMEOUT,
    )
    table = kubectl(installed_crds, "get", "odoo", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "IMAGE", "REPLICAS", "PHASE", "URL", "AGE"]
    assert table[1].split()[:5] == ["shop", "odoo:17.0", "1", "Running", "https://shop.example.com"]
    for kind in CRD_KINDS[1:]:
        header = kubectl(installed_crds, "get", kind.short_names[0], "-n", namespace).stderr
        assert "No resources found" in header  # the short name resolves to the kind


async def test_kubectl_scale_changes_spec_replicas(
    objects: CustomObjectsApi, namespace: str, installed_crds: Path
) -> None:
    await create(objects, namespace, "odooinstances", instance("scaled", {}))
    kubectl(installed_crds, "scale", "odoo/scaled", "--replicas=3", "-n", namespace)
    got = await objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "odooinstances", "scaled", _request_timeout=TIMEOUT
    )
    assert got["spec"]["replicas"] == 3

"""Status subresource and finalizer semantics of the real apiserver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, ApiextensionsV1Api, CustomObjectsApi
from kubernetes_asyncio.client.rest import ApiException

from tests.testbed.crd import GROUP, widget_crd

MERGE = "application/merge-patch+json"


@pytest.fixture
async def widgets(api_client: ApiClient) -> str:
    """Plural of a fresh, Established widget CRD."""
    crd, _ = widget_crd()
    ext = ApiextensionsV1Api(api_client)
    await ext.create_custom_resource_definition(crd, _request_timeout=30)
    name = crd["metadata"]["name"]
    for _ in range(600):  # a deadline of a minute at least, for a loaded machine
        got = await ext.read_custom_resource_definition(name, _request_timeout=30)
        conditions = got.status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"CRD {name} not established")
    return str(crd["spec"]["names"]["plural"])


def _obj(plural: str, name: str, **meta: Any) -> dict[str, Any]:
    kind = plural.capitalize()
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": {"size": 1},
        "status": {"phase": "ignored-on-create"},
    }


async def test_status_subresource_separates_spec_and_status(
    api_client: ApiClient, namespace: str, widgets: str
) -> None:
    api = CustomObjectsApi(api_client)
    created = await api.create_namespaced_custom_object(
        GROUP, "v1", namespace, widgets, _obj(widgets, "w"), _request_timeout=30
    )
    assert "status" not in created  # status is dropped on create
    await api.patch_namespaced_custom_object_status(
        GROUP,
        "v1",
        namespace,
        widgets,
        "w",
        {"status": {"phase": "Ready"}, "spec": {"size": 99}},
        _content_type=MERGE,
        _request_timeout=30,
    )
    got = await api.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "w")
    assert got["status"] == {"phase": "Ready"}
    assert got["spec"] == {"size": 1}  # spec ignored on the status endpoint
    generation = got["metadata"]["generation"]
    await api.patch_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        widgets,
        "w",
        {"status": {"phase": "Hacked"}, "spec": {"size": 2}},
        _content_type=MERGE,
        _request_timeout=30,
    )
    got = await api.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "w")
    assert got["status"] == {"phase": "Ready"}  # status ignored on the main endpoint
    assert got["spec"] == {"size": 2}
    assert got["metadata"]["generation"] == generation + 1


async def test_finalizer_holds_deletion_until_removed(
    api_client: ApiClient, namespace: str, widgets: str
) -> None:
    api = CustomObjectsApi(api_client)
    await api.create_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        widgets,
        _obj(widgets, "f", finalizers=["testbed.example.com/hold"]),
        _request_timeout=30,
    )
    await api.delete_namespaced_custom_object(GROUP, "v1", namespace, widgets, "f")
    held = await api.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "f")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["testbed.example.com/hold"]
    await api.patch_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        widgets,
        "f",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
        _request_timeout=30,
    )
    with pytest.raises(ApiException) as gone:
        await api.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "f")
    assert gone.value.status == 404


async def test_zero_values_are_values_not_null(
    api_client: ApiClient, namespace: str, widgets: str
) -> None:
    """ "", 0 and false are kept (a Go >= 1.19 build without our patch calls "" null)."""
    api = CustomObjectsApi(api_client)
    body = _obj(widgets, "z")
    body["spec"] = {"size": 0, "note": "", "enabled": False}
    await api.create_namespaced_custom_object(
        GROUP, "v1", namespace, widgets, body, _request_timeout=30
    )
    got = await api.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "z")
    assert got["spec"] == {"size": 0, "note": "", "enabled": False}

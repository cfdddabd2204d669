"""Server-side apply: created (201) and updated (200) alike, and skipped exactly when a no-op."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo_operator.runtime.apply import APPLIED_HASH_ANNOTATION, Applier, contains
from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import freeze, strip_managed_fields
from odoo_operator.runtime.resources import CONFIG_MAPS, Resource
from tests.runtime.helpers import sample
from tests.testbed.crd import GROUP, widget_crd

CRDS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)


def desired(namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": namespace, "labels": {"app": "x"}},
        "data": data,
    }


async def cached(kube: KubeClient, namespace: str, name: str = "applied") -> Any:
    """The object as an informer would cache it."""
    return freeze(strip_managed_fields(dict(await kube.get(CONFIG_MAPS, name, namespace))))


async def test_apply_creates_then_skips_then_writes_only_real_changes(
    kube: KubeClient, metrics: RuntimeMetrics, namespace: str
) -> None:
    applier = Applier(kube, metrics=metrics)
    created = await applier.apply(CONFIG_MAPS, desired(namespace, a="1", b="2"), None)
    assert created.written
    assert created.object["data"] == {"a": "1", "b": "2"}  # the 201 answer, parsed
    assert "managedFields" not in created.object["metadata"]
    current = await cached(kube, namespace)
    managers = await kube.get(CONFIG_MAPS, "applied", namespace)
    assert {m["manager"] for m in managers["metadata"]["managedFields"]} == {"odoo-operator"}

    writes = metrics.write_requests()
    again = await applier.apply(CONFIG_MAPS, desired(namespace, a="1", b="2"), current)
    assert not again.written
    assert metrics.write_requests() == writes  # nothing sent at all

    # A field we stop setting is removed: the hash differs, so the apply is sent.
    dropped = await applier.apply(CONFIG_MAPS, desired(namespace, a="1"), current)
    assert dropped.written
    assert (await kube.get(CONFIG_MAPS, "applied", namespace))["data"] == {"a": "1"}

    # Someone else changes a field we set: sent again, and ours wins (force).
    await kube.merge_patch(CONFIG_MAPS, "applied", {"data": {"a": "tampered"}}, namespace)
    current = await cached(kube, namespace)
    fixed = await applier.apply(CONFIG_MAPS, desired(namespace, a="1"), current)
    assert fixed.written
    assert fixed.object["data"] == {"a": "1"}

    # Fields added by others (that we do not set) do not trigger writes.
    await kube.merge_patch(
        CONFIG_MAPS, "applied", {"metadata": {"labels": {"other": "y"}}}, namespace
    )
    current = await cached(kube, namespace)
    writes = metrics.write_requests()
    assert not (await applier.apply(CONFIG_MAPS, desired(namespace, a="1"), current)).written
    assert metrics.write_requests() == writes
    assert current["metadata"]["annotations"][APPLIED_HASH_ANNOTATION]
    counted = {
        result: sample(
            metrics.registry, "applier_applies_total", resource="configmaps", result=result
        )
        for result in ("sent", "skipped")
    }
    assert counted == {"sent": 3, "skipped": 2}


async def test_apply_rejects_bodies_it_cannot_send(kube: KubeClient, namespace: str) -> None:
    applier = Applier(kube)
    body = desired(namespace)
    with pytest.raises(ValueError, match=r"metadata\.namespace"):
        await applier.apply(CONFIG_MAPS, {**body, "metadata": {"name": "x"}}, None)
    with pytest.raises(ValueError, match="kind"):
        await applier.apply(CONFIG_MAPS, {**body, "kind": "Secret"}, None)
    with pytest.raises(ValueError, match="apply_status"):
        await applier.apply(CONFIG_MAPS, {**body, "status": {}}, None)


async def test_apply_status_on_a_custom_resource(
    kube: KubeClient, metrics: RuntimeMetrics, namespace: str
) -> None:
    crd, kind = widget_crd()
    await kube.create(CRDS, crd)
    plural = crd["spec"]["names"]["plural"]
    widgets = Resource(GROUP, "v1", plural, kind)

    async def established() -> None:
        while True:
            try:
                await kube.list(widgets, namespace)
                return
            except ApiError:
                await asyncio.sleep(0.2)

    await asyncio.wait_for(established(), 30)
    applier = Applier(kube, metrics=metrics)
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": "w", "namespace": namespace},
        "spec": {"size": 3},
    }
    created = await applier.apply(widgets, body, None)  # CustomObjectsApi returns None on 201
    assert created.written
    assert created.object["spec"] == {"size": 3}
    status = {**body, "status": {"phase": "Ready"}}
    del status["spec"]
    written = await applier.apply_status(widgets, status, created.object)
    assert written.written
    assert written.object["status"] == {"phase": "Ready"}
    writes = metrics.write_requests()
    assert not (await applier.apply_status(widgets, status, written.object)).written
    assert metrics.write_requests() == writes
    status_applies = {"resource": f"{widgets}/status", "result": "skipped"}
    assert sample(metrics.registry, "applier_applies_total", **status_applies) == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(JSON)
def test_every_object_contains_itself(value: Any) -> None:
    assert contains(value, value)
    assert contains(freeze(value), value)


@given(st.dictionaries(st.text(max_size=3), JSON, min_size=1, max_size=4), st.data())
def test_a_changed_or_missing_field_is_never_contained(
    obj: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    changed = {**obj, key: ["changed", obj[key]]}
    assert not contains(obj, changed)
    without = {k: v for k, v in obj.items() if k != key}
    if obj[key] not in (None, {}, []):
        assert not contains(without, obj)


def test_containment_rules() -> None:
    assert contains({"a": 1, "b": 2}, {"a": 1})
    assert contains({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}})
    assert not contains({"a": [1, 2]}, {"a": [1]})  # lists: same length
    assert contains({"a": [{"n": 1, "extra": 2}]}, {"a": [{"n": 1}]})
    assert contains({}, {"a": {}, "b": [], "c": None})  # empty matches absent
    assert not contains({"a": 1}, {"a": True})  # 1 is not true
    assert contains({"a": 1.0}, {"a": 1})

"""A new instance: finalizer, defaults in spec, phase Uninitialized, every child there."""

from __future__ import annotations

from tests.instance.conftest import Operator


async def test_bootstrap(operator: Operator) -> None:
    await operator.create("shop", {"ingress": {"hosts": ["shop.example.com"]}})
    obj = await operator.wait_for_phase("shop", "Uninitialized")
    assert obj["metadata"]["finalizers"] == ["bemade.org/postgres-cleanup"]
    spec = obj["spec"]
    assert spec["image"] == "odoo:18.0"
    assert spec["database"] == {
        "cluster": "main",
        "name": "odoo_" + obj["metadata"]["uid"].replace("-", "_"),
    }
    assert spec["filestore"] == {"storageSize": "2Gi", "storageClass": "standard"}

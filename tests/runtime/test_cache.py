"""The cache's read side: a `Lister` is asked by `ObjectKey`, so the namespace is never left out."""

from __future__ import annotations

import pytest

from odoo_operator.runtime.cache import Lister, Store
from odoo_operator.runtime.objects import ObjectKey, freeze


def test_get_takes_an_object_key() -> None:
    store = Store()
    for namespace in ("a", "b"):
        store.put(freeze({"metadata": {"namespace": namespace, "name": "same"}, "data": {}}))
    lister = Lister(store)
    found = lister.get(ObjectKey("b", "same"))
    assert found is not None
    assert found["metadata"]["namespace"] == "b"
    assert lister.get(ObjectKey("c", "same")) is None
    with pytest.raises(TypeError, match="ObjectKey"):
        lister.get("same")  # type: ignore[arg-type]

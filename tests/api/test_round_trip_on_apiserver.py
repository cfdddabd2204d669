"""Every object the API server returns parses into our models and dumps back unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi

from odoo_operator.api import KINDS_BY_PLURAL
from odoo_operator.api.base import GROUP, VERSION
from tests.api.examples import EXAMPLES, example

pytestmark = pytest.mark.usefixtures("installed_crds")

TIMEOUT = 30


@pytest.mark.parametrize("plural", sorted(EXAMPLES))
async def test_full_objects_round_trip(api_client: ApiClient, namespace: str, plural: str) -> None:
    api = CustomObjectsApi(api_client)
    model = KINDS_BY_PLURAL[plural]
    await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, example(plural), _request_timeout=TIMEOUT
    )
    await api.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        plural,
        "shop",
        {"status": EXAMPLES[plural][2]},
        _content_type="application/merge-patch+json",
        _request_timeout=TIMEOUT,
    )
    minimal = {**example(plural, "minimal"), "spec": _required_only(plural)}
    await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, minimal, _request_timeout=TIMEOUT
    )
    listed = await api.list_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, _request_timeout=TIMEOUT
    )
    assert len(listed["items"]) == 2
    for item in listed["items"]:
        parsed = model.model_validate(item)
        assert parsed.to_dict() == item
        assert parsed.metadata.namespace == namespace
    full = next(item for item in listed["items"] if item["metadata"]["name"] == "shop")
    assert full["status"] == EXAMPLES[plural][2]  # the server kept every status field we wrote


def _required_only(plural: str) -> dict[str, Any]:
    spec = EXAMPLES[plural][1]
    required = {"odooInstanceRef", "destination", "source", "schedule"}
    return {k: v for k, v in spec.items() if k in required}

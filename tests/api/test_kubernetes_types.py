"""Embedded core/v1 types: vendored from Kubernetes' definitions, structural, strictly checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from odoo_operator.api import kubernetes_definitions as definitions
from odoo_operator.api import kubernetes_types as k8s


def test_vendored_definitions_are_exactly_the_source_closure() -> None:
    vendored = definitions.vendored()
    assert vendored == definitions.source()
    for root in definitions.ROOTS:
        assert root in vendored
    assert len(vendored) > len(definitions.ROOTS)  # the closure, not just the roots


def _nodes(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, dict):
        found = [schema]
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                found += _nodes(schema[key])
        for prop in schema.get("properties", {}).values():
            found += _nodes(prop)
        return found
    return []


@pytest.mark.parametrize(
    "name", ["ResourceRequirements", "Affinity", "Toleration", "EnvVar", "EnvFromSource"]
)
def test_structural_schema_is_self_contained_and_documented(name: str) -> None:
    schema = k8s.structural_schema(name)
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "oneOf" not in text
    assert '"null"' not in text
    for node in _nodes(schema):
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}]
        else:
            assert isinstance(node["type"], str)
            assert "anyOf" not in node
    assert schema["description"]


def test_quantity_is_integer_or_string_with_kubernetes_grammar() -> None:
    limits = k8s.structural_schema("ResourceRequirements")["properties"]["limits"]
    quantity = limits["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True
    assert quantity["pattern"] == k8s.QUANTITY_PATTERN
    divisor = k8s.structural_schema("EnvVar")["properties"]["valueFrom"]["properties"][
        "resourceFieldRef"
    ]["properties"]["divisor"]
    assert divisor["x-kubernetes-int-or-string"] is True


def test_valid_values_pass_unchanged() -> None:
    resources = {"limits": {"cpu": 2, "memory": "2Gi"}, "requests": {"cpu": "250m"}}
    assert TypeAdapter(k8s.ResourceRequirements).validate_python(resources) == resources
    tolerations = [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    assert TypeAdapter(k8s.Tolerations).validate_python(tolerations) == tolerations
    env = [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    assert TypeAdapter(k8s.EnvVars).validate_python(env) == env


@pytest.mark.parametrize(
    ("annotated", "value", "message"),
    [
        (k8s.ResourceRequirements, {"limits": {"cpu": "two"}}, "limits.cpu: 'two' does not match"),
        (k8s.ResourceRequirements, {"limit": {}}, "limit: unknown field"),
        (k8s.Affinity, {"nodeAffinity": {"x": 1}}, "nodeAffinity.x: unknown field"),
        (k8s.Tolerations, [{"tolerationSeconds": "1"}], "[0].tolerationSeconds: must be of type"),
        (k8s.EnvVars, [{"value": "x"}], "[0].name: required field is missing"),
        (k8s.EnvFromSources, [{"secretRef": "s"}], "[0].secretRef: must be of type object"),
    ],
)
def test_invalid_values_are_rejected_naming_the_path(
    annotated: Any, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotated).validate_python(value)
    assert message in str(caught.value)

"""Kubernetes types embedded in our resources, checked as what they are, not as opaque blobs.

`resources`, `affinity`, `tolerations`, `extraEnv` and `extraEnvFrom` hold core/v1 objects
(`ResourceRequirements`, `Affinity`, `[]Toleration`, `[]EnvVar`, `[]EnvFromSource`), with
Kubernetes' own schemas (`kubernetes_definitions`).

Guarantees:
- `structural_schema(name)` is a self-contained structural schema (no `$ref`, no `oneOf`,
  one `type` per node) that a 1.20 API server accepts in a CRD, with Kubernetes' own field
  descriptions; `Quantity` becomes integer-or-string with Kubernetes' quantity pattern, as
  controller-gen writes it;
- the annotated types below (`ResourceRequirements`, `Affinity`, `Tolerations`, `EnvVars`,
  `EnvFromSources`) carry that schema into the CRDs and validate values strictly (unknown
  fields are errors) whenever a model or a flag is parsed; values stay plain JSON.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from odoo_operator.api.base import QUANTITY_PATTERN
from odoo_operator.api.kubernetes_definitions import CORE, vendored
from odoo_operator.api.structural import INT_OR_STRING_KEY, check

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "pattern": QUANTITY_PATTERN,
    INT_OR_STRING_KEY: True,
}
_KEPT_KEYWORDS = {
    "description",
    "type",
    "format",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}


def _to_structural(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        target = _definition_schema(schema["$ref"].rsplit("/", 1)[-1])
        if "description" in schema:
            target["description"] = schema["description"]
        return target
    unknown = set(schema) - _KEPT_KEYWORDS
    if unknown:
        raise ValueError(f"unexpected keyword(s) in a Kubernetes definition: {sorted(unknown)}")
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            (result[key],) = [t for t in value if t != "null"]
        elif key == "properties":
            result[key] = {name: _to_structural(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _to_structural(value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _definition_schema(name: str) -> dict[str, Any]:
    if name == QUANTITY:
        return copy.deepcopy(QUANTITY_SCHEMA)
    return _to_structural(vendored()[name])


def structural_schema(name: str) -> dict[str, Any]:
    """The CRD schema of core/v1 `name` (e.g. `Affinity`), a fresh copy each call."""
    return _definition_schema(f"{CORE}{name}")


def list_schema(name: str) -> dict[str, Any]:
    return {"type": "array", "items": structural_schema(name)}


def _validator(schema: dict[str, Any], type_name: str) -> AfterValidator:
    def validate(value: Any) -> Any:
        problems = check(value, schema)
        if problems:
            raise ValueError(f"not a valid {type_name}: " + "; ".join(problems))
        return value

    return AfterValidator(validate)


_RESOURCES = structural_schema("ResourceRequirements")
_AFFINITY = structural_schema("Affinity")
_TOLERATIONS = list_schema("Toleration")
_ENV = list_schema("EnvVar")
_ENV_FROM = list_schema("EnvFromSource")

ResourceRequirements = Annotated[
    dict[str, Any], WithJsonSchema(_RESOURCES), _validator(_RESOURCES, "ResourceRequirements")
]
Affinity = Annotated[dict[str, Any], WithJsonSchema(_AFFINITY), _validator(_AFFINITY, "Affinity")]
Tolerations = Annotated[
    list[dict[str, Any]], WithJsonSchema(_TOLERATIONS), _validator(_TOLERATIONS, "Toleration list")
]
EnvVars = Annotated[list[dict[str, Any]], WithJsonSchema(_ENV), _validator(_ENV, "EnvVar list")]
EnvFromSources = Annotated[
    list[dict[str, Any]], WithJsonSchema(_ENV_FROM), _validator(_ENV_FROM, "EnvFromSource list")
]

# An int or a string such as "25%" (Kubernetes' intstr.IntOrString).
IntOrString = Annotated[
    int | str,
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], INT_OR_STRING_KEY: True}),
]

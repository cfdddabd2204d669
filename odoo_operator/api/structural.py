"""Checking a JSON value against a CRD structural schema, as the API server would, but strict.

The schemas are the ones this package puts into its CRDs (`crd.py`, `kubernetes_types.py`):
`type`, `properties`, `required`, `items`, `additionalProperties`, `enum`, `pattern`,
`minimum`/`maximum`, `minLength`/`maxLength`, `minItems` and `x-kubernetes-int-or-string`.

Guarantees:
- `check` returns every problem it finds, each as `<path>: <what is wrong>`, with the path
  written as the user wrote the value (`limits.cpu`, `[0].effect`); an empty list means valid;
- unlike the API server, which silently prunes unknown fields, a key that the schema does not
  declare is an error: it is almost always a typo in a flag or a field name;
- a keyword this module does not know makes `check` raise, so a schema it cannot fully check
  is never reported as passed.
"""

from __future__ import annotations

import re
from typing import Any

INT_OR_STRING_KEY = "x-kubernetes-int-or-string"

# What we check, and what only documents or steers server-side apply (ignored here).
_CHECKED = {
    "type",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    INT_OR_STRING_KEY,
}
_IGNORED = {
    "description",
    "default",
    "format",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list, tuple),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_error(value: Any, expected: str) -> str | None:
    if isinstance(value, bool) and expected != "boolean":
        return f"must be of type {expected}, not boolean"
    if not isinstance(value, _JSON_TYPES[expected]):
        return f"must be of type {expected}, not {_json_type_name(value)}"
    return None


def _json_type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}
    return names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)


def check(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """All the ways `value` does not fit `schema` (empty when it fits)."""
    unknown = set(schema) - _CHECKED - _IGNORED
    if schema.get(INT_OR_STRING_KEY):
        unknown.discard("anyOf")  # the [integer, string] pair that goes with the marker
    if unknown:
        raise ValueError(f"schema keyword(s) not supported here: {sorted(unknown)}")
    where = path or "value"
    if schema.get(INT_OR_STRING_KEY):
        if isinstance(value, bool) or not isinstance(value, int | str):
            return [f"{where}: must be an integer or a string, not {_json_type_name(value)}"]
        return _check_scalar(value, schema, where)
    expected = schema.get("type")
    if expected is not None:
        problem = _type_error(value, expected)
        if problem:
            return [f"{where}: {problem}"]
    if isinstance(value, dict):
        return _check_object(value, schema, path)
    if isinstance(value, list | tuple):
        return _check_array(value, schema, path)
    return _check_scalar(value, schema, where)


def _check_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    problems = [
        f"{_join(path, name)}: required field is missing"
        for name in schema.get("required", [])
        if name not in value
    ]
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            problems += check(item, properties[key], _join(path, key))
        elif isinstance(extra, dict):
            problems += check(item, extra, _join(path, key))
        elif extra is not True:
            known = ", ".join(properties) or "none"
            problems.append(f"{_join(path, key)}: unknown field (known fields: {known})")
    return problems


def _check_array(
    value: list[Any] | tuple[Any, ...], schema: dict[str, Any], path: str
) -> list[str]:
    problems = []
    if len(value) < schema.get("minItems", 0):
        problems.append(f"{path or 'value'}: must have at least {schema['minItems']} item(s)")
    items = schema.get("items")
    if items is not None:
        for index, item in enumerate(value):
            problems += check(item, items, _join(path, index))
    return problems


def _check_scalar(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        return [f"{where}: {value!r} is not one of: {allowed}"]
    problems = []
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: must be at least {schema['minLength']} character(s)")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: must be at most {schema['maxLength']} character(s)")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: must be at most {schema['maximum']}")
    return problems

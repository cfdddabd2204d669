"""`structural.check`: the strict validator of CRD-style schemas."""

from __future__ import annotations

from typing import Any

import pytest

from odoo_operator.api.structural import check

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "size": {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": "^[0-9]+Gi$",
            "x-kubernetes-int-or-string": True,
        },
        "mode": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer", "minimum": 0, "maximum": 3},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "on": {"type": "boolean"},
    },
}


def test_a_fitting_value_has_no_problems() -> None:
    value = {
        "name": "x",
        "size": 3,
        "mode": "a",
        "count": 3,
        "tags": ["t"],
        "labels": {"k": "v"},
        "on": False,
    }
    assert check(value, SCHEMA) == []
    assert check({"name": "x", "size": "10Gi"}, SCHEMA) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({}, "name: required field is missing"),
        ({"name": ""}, "name: must be at least 1 character(s)"),
        ({"name": "toolong"}, "name: must be at most 5 character(s)"),
        ({"name": 1}, "name: must be of type string, not integer"),
        ({"name": "x", "size": "ten"}, "size: 'ten' does not match ^[0-9]+Gi$"),
        ({"name": "x", "size": 1.5}, "size: must be an integer or a string, not number"),
        ({"name": "x", "size": True}, "size: must be an integer or a string, not boolean"),
        ({"name": "x", "mode": "c"}, "mode: 'c' is not one of: a, b"),
        ({"name": "x", "count": -1}, "count: must be at least 0"),
        ({"name": "x", "count": 4}, "count: must be at most 3"),
        ({"name": "x", "count": True}, "count: must be of type integer, not boolean"),
        ({"name": "x", "tags": []}, "tags: must have at least 1 item(s)"),
        ({"name": "x", "tags": ["a", 2]}, "tags[1]: must be of type string, not integer"),
        ({"name": "x", "labels": {"k": 1}}, "labels.k: must be of type string, not integer"),
        ({"name": "x", "on": "yes"}, "on: must be of type boolean, not string"),
        (
            {"name": "x", "nmae": "y"},
            "nmae: unknown field (known fields: name, size, mode, count, tags, labels, on)",
        ),
        ([], "value: must be of type object, not array"),
    ],
)
def test_each_problem_is_reported_with_its_path(value: Any, problem: str) -> None:
    assert check(value, SCHEMA) == [problem]


def test_all_problems_are_reported_at_once() -> None:
    assert len(check({"name": 1, "mode": "z", "extra": 0}, SCHEMA)) == 3


def test_a_keyword_it_cannot_check_raises_instead_of_passing() -> None:
    with pytest.raises(ValueError, match="oneOf"):
        check("x", {"oneOf": [{"type": "string"}]})
    with pytest.raises(ValueError, match="anyOf"):
        check("x", {"anyOf": [{"type": "string"}, {"type": "integer"}]})

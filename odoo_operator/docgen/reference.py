"""docs/reference.md, rendered from the models, the CRD table and the CLI (never by hand).

Guarantees: every field of every kind (spec and status, nested fields as dotted paths) with
its wire name, type, default and description; every command of `odoo-operator` with its
summary; every flag of `odoo-operator run` (`run.flags.FLAGS`) with its environment
variable, default and help. A test fails when the committed file differs from `render()`.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from odoo_operator.api import kubernetes_types as k8s
from odoo_operator.api.base import API_VERSION, ApiModel
from odoo_operator.api.crd import CRD_KINDS, CrdKind
from odoo_operator.api.kubernetes_definitions import KUBERNETES_VERSION
from odoo_operator.cli import main
from odoo_operator.run.flags import FLAGS, Flag

_EMBEDDED = {
    k8s.ResourceRequirements: "core/v1 ResourceRequirements",
    k8s.Affinity: "core/v1 Affinity",
    k8s.Tolerations: "[]core/v1 Toleration",
    k8s.EnvVars: "[]core/v1 EnvVar",
    k8s.EnvFromSources: "[]core/v1 EnvFromSource",
    k8s.IntOrString: "integer or string",
}
_SCALARS = {str: "string", int: "integer", bool: "boolean", datetime: "date-time (RFC 3339)"}


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _nested_model(annotation: Any) -> type[ApiModel] | None:
    annotation = _without_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, ApiModel):
        return annotation
    return None


def type_name(annotation: Any) -> str:  # noqa: PLR0911 - one return per kind of annotation
    annotation = _without_none(annotation)
    for embedded, name in _EMBEDDED.items():
        if annotation == embedded:
            return name
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # constraints such as ge=0: the type is the first argument
        return type_name(args[0])
    if origin is tuple:
        return f"[]{type_name(args[0])}"
    if origin is dict:
        return f"map[{type_name(args[0])}]{type_name(args[1])}"
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(str(member.value) for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return _SCALARS[annotation]


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined or field.default is None:
        return "required" if field.is_required() else "—"
    value = field.default
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, tuple | bool):
        value = json.dumps(list(value) if isinstance(value, tuple) else value)
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def field_rows(model: type[ApiModel], prefix: str) -> list[str]:
    """One table row per field of `model` and, depth first, of its nested models."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        rows.append(
            f"| `{path}` | {type_name(field.rebuild_annotation())} | {_default(field)} "
            f"| {_cell(field.description or '')} |"
        )
        nested = _nested_model(field.annotation)
        if nested is not None:
            rows += field_rows(nested, path)
    return rows


def _kind_section(kind: CrdKind) -> list[str]:
    model = kind.model
    spec = _nested_model(model.model_fields["spec"].annotation)
    status = _nested_model(model.model_fields["status"].annotation)
    if spec is None or status is None:
        raise TypeError(f"{model.KIND}: spec and status must be models")
    columns = ", ".join(column.name for column in kind.columns)
    subresources = "status, scale" if kind.scale else "status"
    table = ["| field | type | default | description |", "|---|---|---|---|"]
    return [
        f"### {model.KIND}",
        "",
        f"{(model.__doc__ or '').strip()} `{kind.name}`, short name "
        f"`{', '.join(kind.short_names)}`; subresources: {subresources}; "
        f"`kubectl get` columns: {columns}.",
        "",
        *table,
        *field_rows(spec, "spec"),
        *field_rows(status, "status"),
        "",
    ]


def _flag_default(flag: Flag) -> str:
    if flag.default is None:
        return "—"
    if isinstance(flag.default, bool):
        return f"`{str(flag.default).lower()}`"
    return f"`{flag.default}`"


def _flag_rows() -> list[str]:
    rows = ["| flag | env var | default | description |", "|---|---|---|---|"]
    for flag in FLAGS:
        names = " / ".join(f"`{name}`" for name in flag.name.split("/"))
        rows.append(f"| {names} | `{flag.env_var}` | {_flag_default(flag)} | {_cell(flag.help)} |")
    return rows


def render() -> str:
    context = click.Context(main)
    listed = {name: main.get_command(context, name) for name in main.list_commands(context)}
    commands = [
        f"| `odoo-operator {name}` | {_cell(command.get_short_help_str(limit=200))} |"
        for name, command in sorted(listed.items())
        if command is not None
    ]
    lines = [
        "# Reference",
        "",
        "<!-- Generated by `python -m odoo_operator.docgen` from the models and the CLI;",
        "     do not edit by hand (a test fails when this file is not current). -->",
        "",
        "## Custom resources",
        "",
        f"All kinds are namespaced, in `{API_VERSION}`. A default in backticks is filled in by "
        "the API server for `spec` fields, and assumed by the operator for an absent `status` "
        "field; — marks an optional field without one. Embedded `core/v1` types "
        f"are validated with Kubernetes {KUBERNETES_VERSION}'s own schema "
        "(see [crds.md](crds.md)).",
        "",
    ]
    for kind in CRD_KINDS:
        lines += _kind_section(kind)
    lines += ["## Commands", "", "| command | does |", "|---|---|", *commands, ""]
    lines += [
        "## `odoo-operator run` flags",
        "",
        "Each flag can also be set through its environment variable; the flag wins. Every "
        "value is checked before the operator starts: a bad one stops it with exit status 2 "
        "and a message naming the flag.",
        "",
        *_flag_rows(),
        "",
    ]
    return "\n".join(lines)

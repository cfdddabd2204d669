"""CustomResourceDefinitions generated from the pydantic models (`odoo-operator crds`).

Guarantees:
- every schema is structural as a 1.20 API server requires: no `$ref`, no `anyOf` except
  the integer-or-string pair with `x-kubernetes-int-or-string`, one `type` per node, and
  `metadata` left to the server; generation fails on anything else rather than emit it;
- every field keeps its model description (so `kubectl explain` documents it), its enum,
  its bounds and pattern, and `required`; model defaults become server-side defaults in
  `spec` (none in `status`: the operator writes all of it; none for values the operator
  takes from its flags: those fields have no model default);
- names, short names, printer columns and the `status` (and, for OdooInstance, `scale`)
  subresources come from `CRD_KINDS`, the one table of what each kind looks like in kubectl;
- output is deterministic: the same models give byte-identical YAML.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from odoo_operator.api.backup_schedule import OdooBackupSchedule
from odoo_operator.api.base import GROUP, VERSION, CustomResource
from odoo_operator.api.instance import OdooInstance
from odoo_operator.api.job_resources import (
    OdooBackupJob,
    OdooInitJob,
    OdooRestoreJob,
    OdooUpgradeJob,
)
from odoo_operator.api.structural import INT_OR_STRING_KEY

# Keywords a CRD schema may carry as we emit them (and `structural.check` can check), in the
# order they are written: what a reader looks for first comes first.
_KEYWORD_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "anyOf",
    INT_OR_STRING_KEY,
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "required",
    "properties",
    "items",
    "additionalProperties",
)
_INT_OR_STRING_PAIR = [{"type": "integer"}, {"type": "string"}]
_NULL = {"type": "null"}

API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object."
)
KIND_DESCRIPTION = "Kind is a string value representing the REST resource this object represents."


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""


def _age() -> PrinterColumn:
    return PrinterColumn("Age", ".metadata.creationTimestamp", "date")


def _target() -> PrinterColumn:
    return PrinterColumn("Target", ".spec.odooInstanceRef.name", description="The OdooInstance.")


def _job_phase() -> PrinterColumn:
    return PrinterColumn("Phase", ".status.phase", description="Pending/Running/Completed/Failed.")


@dataclass(frozen=True)
class CrdKind:
    """How one kind appears to kubectl: names, columns, subresources."""

    model: type[CustomResource]
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]
    scale: bool = False

    @property
    def name(self) -> str:
        return f"{self.model.PLURAL}.{GROUP}"

    @property
    def singular(self) -> str:
        return self.model.KIND.lower()


CRD_KINDS: tuple[CrdKind, ...] = (
    CrdKind(
        OdooInstance,
        ("odoo",),
        (
            PrinterColumn("Image", ".spec.image", description="Odoo image."),
            PrinterColumn(
                "Replicas", ".status.readyReplicas", "integer", description="Ready web pods."
            ),
            PrinterColumn("Phase", ".status.phase", description="Lifecycle phase."),
            PrinterColumn("URL", ".status.url", description="Public URL."),
            _age(),
        ),
        scale=True,
    ),
    CrdKind(OdooInitJob, ("initjob",), (_target(), _job_phase(), _age())),
    CrdKind(OdooUpgradeJob, ("upgradejob",), (_target(), _job_phase(), _age())),
    CrdKind(
        OdooBackupJob,
        ("backupjob",),
        (_target(), PrinterColumn("Format", ".spec.format"), _job_phase(), _age()),
    ),
    CrdKind(
        OdooRestoreJob,
        ("restore",),
        (_target(), PrinterColumn("Source", ".spec.source.type"), _job_phase(), _age()),
    ),
    CrdKind(
        OdooBackupSchedule,
        ("backupschedule",),
        (
            _target(),
            PrinterColumn("Schedule", ".spec.schedule", description="Cron expression."),
            PrinterColumn(
                "Last backup",
                ".status.lastSuccessfulBackup.time",
                "date",
                description="Time of the newest completed backup.",
            ),
            PrinterColumn(
                "Verified", ".status.lastVerified.result", description="Passed or Failed."
            ),
            _age(),
        ),
    ),
)


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref` and collapse `X | None` into X; the referring node's keys win."""
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_resolve(copy.deepcopy(target), definitions), **rest}
    if "anyOf" in node and not node.get(INT_OR_STRING_KEY):
        options = [option for option in node["anyOf"] if option != _NULL]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            return {**_resolve(options[0], definitions), **rest}
        raise ValueError(f"a union the API server cannot take: {node['anyOf']}")
    return node


def structural(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema node as a CRD structural schema node."""
    node = _resolve(node, definitions)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value is None):
            continue
        if key not in _KEYWORD_ORDER:
            raise ValueError(f"schema keyword {key!r} cannot go into a CRD")
        if key == "properties":
            result[key] = {name: structural(prop, definitions) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = structural(value, definitions)
        elif key == "anyOf" and value != _INT_OR_STRING_PAIR:
            raise ValueError(f"anyOf other than integer-or-string: {value}")
        else:
            result[key] = copy.deepcopy(value)
    return {key: result[key] for key in _KEYWORD_ORDER if key in result}


def _without_defaults(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(item) for item in node]
    return node


def openapi_schema(model: type[CustomResource]) -> dict[str, Any]:
    """The `openAPIV3Schema` of a kind."""
    generated = model.model_json_schema(by_alias=True, mode="validation")
    definitions = generated.get("$defs", {})
    properties = generated["properties"]
    return {
        "description": (model.__doc__ or "").strip(),
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {"type": "object"},
            "spec": structural(properties["spec"], definitions),
            "status": _without_defaults(structural(properties["status"], definitions)),
        },
    }


def _subresources(kind: CrdKind) -> dict[str, Any]:
    subresources: dict[str, Any] = {"status": {}}
    if kind.scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.readyReplicas",
            "labelSelectorPath": ".status.selector",
        }
    return subresources


def _column(column: PrinterColumn) -> dict[str, Any]:
    rendered = {"name": column.name, "type": column.type, "jsonPath": column.json_path}
    if column.description:
        rendered["description"] = column.description
    return rendered


def custom_resource_definition(kind: CrdKind) -> dict[str, Any]:
    model = kind.model
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.name},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": model.KIND,
                "listKind": f"{model.KIND}List",
                "plural": model.PLURAL,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema(model)},
                    "subresources": _subresources(kind),
                    "additionalPrinterColumns": [_column(c) for c in kind.columns],
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [custom_resource_definition(kind) for kind in CRD_KINDS]


def file_name(crd: dict[str, Any]) -> str:
    """controller-gen's naming: `<group>_<plural>.yaml`."""
    return f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"


def to_yaml(crd: dict[str, Any]) -> str:
    return yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


def rendered_files() -> dict[str, str]:
    """File name -> YAML text, as `odoo-operator crds --output-dir` writes them."""
    return {file_name(crd): to_yaml(crd) for crd in all_crds()}

"""The generated CRDs: structural, documented, with the names, columns and defaults of SPEC §2."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

from odoo_operator.api.base import ApiModel, CustomResource
from odoo_operator.api.crd import CRD_KINDS, all_crds, openapi_schema, rendered_files, structural

CRDS = {crd["spec"]["names"]["kind"]: crd for crd in all_crds()}


def _version(kind: str) -> dict[str, Any]:
    version: dict[str, Any] = CRDS[kind]["spec"]["versions"][0]
    return version


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _version(kind)["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, prop in node.get("properties", {}).items():
        found += _walk(prop, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural(kind: str) -> None:
    for path, node in _walk(_schema(kind), ""):
        assert not {"$ref", "title", "nullable"} & set(node), path
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
        else:
            assert node.get("type") in ("object", "array", "string", "integer", "boolean"), path
            assert "anyOf" not in node, path


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_every_field_has_a_description(kind: str) -> None:
    undocumented = [
        path
        for path, node in _walk(_schema(kind), "")
        if path
        and not path.endswith(("[]", "{}"))
        and path != ".metadata"
        and not node.get("description")
    ]
    assert undocumented == []


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_status_has_no_server_side_defaults(kind: str) -> None:
    status = _schema(kind)["properties"]["status"]
    assert [path for path, node in _walk(status, "status") if "default" in node] == []


def test_values_taken_from_operator_flags_have_no_server_side_default() -> None:
    spec = _schema("OdooInstance")["properties"]["spec"]["properties"]
    for field in ("image", "resources", "affinity", "tolerations"):
        assert "default" not in spec[field]
    for block in ("database", "filestore"):
        assert "default" not in spec[block]
        assert all("default" not in node for node in spec[block]["properties"].values())


def test_spec_defaults_and_enums() -> None:
    spec = _schema("OdooInstance")["properties"]["spec"]["properties"]
    assert spec["replicas"]["default"] == 1
    assert spec["environment"] == {
        **spec["environment"],
        "enum": ["Staging", "Production"],
        "default": "Staging",
    }
    assert spec["strategy"]["properties"]["type"]["enum"] == ["Recreate", "RollingUpdate"]
    assert spec["init"]["properties"]["modules"]["default"] == ["base"]
    backup = _schema("OdooBackupJob")["properties"]["spec"]
    assert backup["properties"]["format"]["enum"] == ["zip", "sql", "dump"]
    assert backup["properties"]["format"]["default"] == "zip"
    assert backup["properties"]["withFilestore"]["default"] is True
    assert backup["required"] == ["odooInstanceRef", "destination"]
    restore = _schema("OdooRestoreJob")["properties"]["spec"]["properties"]
    assert restore["source"]["properties"]["type"]["enum"] == ["s3", "odoo"]
    assert restore["neutralize"]["default"] is True
    job_phase = _schema("OdooInitJob")["properties"]["status"]["properties"]["phase"]
    assert job_phase["enum"] == ["Pending", "Running", "Completed", "Failed"]


def test_names_and_short_names() -> None:
    short = {kind: crd["spec"]["names"]["shortNames"] for kind, crd in CRDS.items()}
    assert short == {
        "OdooInstance": ["odoo"],
        "OdooInitJob": ["initjob"],
        "OdooUpgradeJob": ["upgradejob"],
        "OdooBackupJob": ["backupjob"],
        "OdooRestoreJob": ["restore"],
        "OdooBackupSchedule": ["backupschedule"],
    }
    for crd in CRDS.values():
        assert crd["spec"]["group"] == "bemade.org"
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.bemade.org"
        assert _version(crd["spec"]["names"]["kind"])["name"] == "v1alpha1"


def test_subresources_and_printer_columns() -> None:
    assert _version("OdooInstance")["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.readyReplicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = [c["name"] for c in _version("OdooInstance")["additionalPrinterColumns"]]
    assert columns == ["Image", "Replicas", "Phase", "URL", "Age"]
    for kind in ("OdooInitJob", "OdooUpgradeJob", "OdooBackupJob", "OdooRestoreJob"):
        assert _version(kind)["subresources"] == {"status": {}}
        names = [c["name"] for c in _version(kind)["additionalPrinterColumns"]]
        assert (names[0], names[-2:]) == ("Target", ["Phase", "Age"])
    assert _version("OdooBackupSchedule")["subresources"] == {"status": {}}
    columns = [c["name"] for c in _version("OdooBackupSchedule")["additionalPrinterColumns"]]
    assert columns == ["Target", "Schedule", "Last backup", "Verified", "Age"]


def test_output_is_deterministic() -> None:
    assert rendered_files() == rendered_files()
    assert len(CRD_KINDS) == len(rendered_files()) == 6


class _Union(ApiModel):
    value: int | bool = Field(description="Neither integer-or-string nor optional.")


class _Bad(CustomResource):
    KIND = "Bad"
    PLURAL = "bads"
    spec: _Union = Field(description="s")
    status: _Union = Field(description="s")


def test_a_union_the_api_server_cannot_take_fails_generation() -> None:
    with pytest.raises(ValueError, match="union"):
        openapi_schema(_Bad)
    with pytest.raises(ValueError, match="cannot go into a CRD"):
        structural({"type": "string", "const": "x"}, {})

"""The pydantic models: wire names, defaults, enums, round trips (offline)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from odoo_operator.api import KINDS, KINDS_BY_PLURAL, InstancePhase, JobPhase, OdooInstance
from odoo_operator.api.base import ApiModel
from odoo_operator.api.instance import Environment, OdooInstanceSpec, StrategyType
from odoo_operator.api.job_resources import (
    BackupFormat,
    OdooInitJob,
    OdooRestoreJob,
    RestoreSourceType,
)
from odoo_operator.docgen.reference import _nested_model
from tests.api.examples import EXAMPLES, example


def _full(plural: str) -> dict[str, Any]:
    obj = example(plural)
    obj["status"] = copy.deepcopy(EXAMPLES[plural][2])
    obj["metadata"] = {
        "name": "shop",
        "namespace": "odoo",
        "uid": "0b6c5d8e-2f43-4c1e-9d55-1b4ad1b8c0de",
        "resourceVersion": "42",
        "generation": 3,
        "creationTimestamp": "2025-03-01T10:00:00Z",
        "labels": {"team": "erp"},
        "finalizers": ["bemade.org/postgres-cleanup"],
        "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
    }
    return obj


@pytest.mark.parametrize("plural", sorted(EXAMPLES))
def test_full_objects_round_trip_offline(plural: str) -> None:
    obj = _full(plural)
    parsed = KINDS_BY_PLURAL[plural].model_validate(obj)
    assert parsed.to_dict() == obj


def _paths(model: type[ApiModel], prefix: str) -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        paths.append(path)
        nested = _nested_model(field.annotation)
        if nested is not None:
            paths += _paths(nested, path)
    return paths


def _has(obj: dict[str, Any], path: str) -> bool:
    node: Any = obj
    for part in path.split("."):
        if isinstance(node, list):
            node = node[0]
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("plural", sorted(EXAMPLES))
def test_the_examples_set_every_field(plural: str) -> None:
    """So that the round trips above (and on the server) cover every field."""
    model = KINDS_BY_PLURAL[plural]
    obj = _full(plural)
    for part in ("spec", "status"):
        nested = _nested_model(model.model_fields[part].annotation)
        assert nested is not None
        missing = [p for p in _paths(nested, part) if not _has(obj, p)]
        assert missing == []


def test_wire_names_are_camel_case_and_python_names_snake_case() -> None:
    spec = OdooInstanceSpec(admin_password="x", image_pull_secret="p", extra_env=[])
    assert spec.to_dict() == {"adminPassword": "x", "imagePullSecret": "p", "extraEnv": []}
    parsed = OdooInstanceSpec.model_validate(
        {"imagePullSecret": "p", "ingress": {"hosts": ["h"], "class": "nginx"}}
    )
    assert parsed.image_pull_secret == "p"
    assert parsed.ingress is not None
    assert parsed.ingress.ingress_class == "nginx"


def test_model_defaults_follow_the_spec() -> None:
    instance = OdooInstance.model_validate({"metadata": {"name": "a"}, "spec": {}})
    spec = instance.spec
    assert spec.replicas == 1
    assert spec.environment is Environment.STAGING
    assert spec.strategy.type is StrategyType.RECREATE
    assert (spec.probes.startup_path, spec.probes.liveness_path, spec.probes.readiness_path) == (
        "/web/health",
        "/web/health",
        "/web/health",
    )
    assert spec.cron.replicas == 1
    assert spec.cron.resources is None
    assert spec.init is None  # no init block: the user creates an OdooInitJob
    operator_filled = (spec.image, spec.database.cluster, spec.database.name)
    assert operator_filled == (None, None, None)
    assert (spec.filestore.storage_size, spec.filestore.storage_class) == (None, None)
    assert instance.status.phase is None
    assert instance.to_dict() == {"metadata": {"name": "a"}, "spec": {}}
    with_init = OdooInstanceSpec.model_validate({"init": {}})
    assert with_init.init is not None
    assert (with_init.init.enabled, with_init.init.modules, with_init.init.demo) == (
        True,
        ("base",),
        False,
    )
    init = OdooInitJob.model_validate({"spec": {"odooInstanceRef": {"name": "a"}}})
    assert (init.spec.modules, init.spec.demo) == (("base",), False)
    restore = OdooRestoreJob.model_validate(
        {"spec": {"odooInstanceRef": {"name": "a"}, "source": {"type": "s3"}}}
    )
    assert (restore.spec.format, restore.spec.neutralize) == (BackupFormat.ZIP, True)


def test_enums_are_the_spec_values() -> None:
    assert [p.value for p in InstancePhase] == [
        "Provisioning", "Uninitialized", "Initializing", "InitFailed", "Starting", "Running",
        "Degraded", "Stopped", "Upgrading", "Restoring", "BackingUp", "Error",
    ]  # fmt: skip
    assert [p.value for p in JobPhase] == ["Pending", "Running", "Completed", "Failed"]
    assert [f.value for f in BackupFormat] == ["zip", "sql", "dump"]
    assert [t.value for t in RestoreSourceType] == ["s3", "odoo"]
    assert [e.value for e in Environment] == ["Staging", "Production"]
    assert [s.value for s in StrategyType] == ["Recreate", "RollingUpdate"]


def test_models_are_frozen() -> None:
    instance = OdooInstance.model_validate({"spec": {}})
    with pytest.raises(ValidationError):
        instance.spec.replicas = 3  # type: ignore[misc]


def test_fields_the_server_would_prune_are_ignored() -> None:
    spec = OdooInstanceSpec.model_validate({"replicas": 2, "futureField": True})
    assert spec.to_dict() == {"replicas": 2}


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        OdooInstanceSpec.model_validate({"environment": "Testing", "tolerations": [{"x": 1}]})
    text = str(caught.value)
    assert "environment" in text
    assert "tolerations" in text
    assert "[0].x: unknown field" in text


def test_every_kind_is_registered_once() -> None:
    assert [k.KIND for k in KINDS] == [
        "OdooInstance", "OdooInitJob", "OdooUpgradeJob", "OdooBackupJob", "OdooRestoreJob",
        "OdooBackupSchedule",
    ]  # fmt: skip
    assert set(KINDS_BY_PLURAL) == {k.PLURAL for k in KINDS}

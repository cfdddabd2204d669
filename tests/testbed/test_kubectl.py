"""kubectl, the real client, against the real apiserver: CRDs, custom objects, SSA."""

from __future__ import annotations

import json
from pathlib import Path

from tests.kubectl import kubectl, kubectl_json
from tests.testbed.crd import GROUP, widget_crd


def _apply_crd(kubeconfig: Path) -> tuple[str, str]:
    crd, kind = widget_crd()
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(crd))
    name = crd["metadata"]["name"]
    kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
    return name.split(".")[0], kind


def test_apply_crd_and_custom_object(kubeconfig: Path, namespace: str) -> None:
    plural, kind = _apply_crd(kubeconfig)
    obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": "w1", "namespace": namespace},
        "spec": {"size": 3},
    }
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(obj))
    got = kubectl_json(kubeconfig, "-n", namespace, "get", f"{plural}/w1")
    assert got["spec"] == {"size": 3}
    assert got["metadata"]["uid"]


def test_schema_rejects_wrong_type(kubeconfig: Path, namespace: str) -> None:
    _, kind = _apply_crd(kubeconfig)
    obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"size": "three"},
    }
    result = kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode != 0
    assert "spec.size" in result.stderr


def test_server_side_apply_records_field_manager(kubeconfig: Path, namespace: str) -> None:
    plural, kind = _apply_crd(kubeconfig)
    obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": "w2", "namespace": namespace},
        "spec": {"size": 5},
    }
    kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--field-manager=bed-test",
        "-f",
        "-",
        stdin=json.dumps(obj),
    )
    got = kubectl_json(kubeconfig, "-n", namespace, "get", f"{plural}/w2", "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in got["metadata"]["managedFields"]}
    assert ("bed-test", "Apply") in managers
    # A second manager that sets the same field conflicts unless it forces.
    obj["spec"]["size"] = 6
    conflict = kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        stdin=json.dumps(obj),
        check=False,
    )
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower()

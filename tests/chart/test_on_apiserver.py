"""The chart on the real kube-apiserver: a server-side dry run of every rendered object,
and the documented `helm upgrade --install`, upgrade and uninstall (CRDs kept).

No cert-manager or prometheus-operator CRDs can be fetched here (no registry ships them):
the dry run leaves their kinds (Issuer, Certificate, ServiceMonitor) out, and the install
registers permissive stand-in CRDs for cert-manager's two kinds so that Helm can create
them; their schemas are not checked, and nothing issues the certificate.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.chart.conftest import CHART, EVERY_VALUE, Render, helm
from tests.chart.tools import ChartTools
from tests.kubectl import kubectl, kubectl_json

NOT_ON_THIS_SERVER = {"Issuer", "Certificate", "ServiceMonitor"}


@pytest.mark.parametrize("values", [{}, EVERY_VALUE], ids=["defaults", "every-value"])
def test_server_side_dry_run_accepts_every_object(
    render: Render,
    control_plane: ControlPlane,
    installed_crds: Path,
    values: dict[str, Any],
) -> None:
    namespace = f"chart-{secrets.token_hex(4)}"
    kubectl(control_plane.kubeconfig, "create", "namespace", namespace)
    manifests = render(values, release=f"r-{namespace}", namespace=namespace)
    applied = [m for m in manifests if m["kind"] not in NOT_ON_THIS_SERVER]
    stream = json.dumps({"apiVersion": "v1", "kind": "List", "items": applied})
    result = kubectl(control_plane.kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=stream)
    assert result.stdout.count("(server dry run)") == len(applied), result.stdout


def _stand_in_crd(kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.cert-manager.io"},
        "spec": {
            "group": "cert-manager.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def install_plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane of its own: the installed webhook would intercept every write of
    our kinds, and nothing serves it here."""
    plane = ControlPlane(envtest_assets, tmp_path_factory.mktemp("helm-install"))
    try:
        plane.start()
        stand_ins = [
            _stand_in_crd("Issuer", "issuers"),
            _stand_in_crd("Certificate", "certificates"),
        ]
        kubectl(
            plane.kubeconfig,
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"kind": "List", "apiVersion": "v1", "items": stand_ins}),
        )
        for plural in ("issuers", "certificates"):
            kubectl(
                plane.kubeconfig,
                "wait",
                "--for=condition=Established",
                f"crd/{plural}.cert-manager.io",
                "--timeout=50s",
            )
        yield plane
    finally:
        plane.stop()


def test_install_upgrade_uninstall_as_documented(
    tools: ChartTools, install_plane: ControlPlane
) -> None:
    config = install_plane.kubeconfig

    def helm_here(*args: str) -> str:
        return helm(tools, "--kubeconfig", str(config), *args).stdout

    install = (
        "upgrade", "--install", "odoo-operator", str(CHART), "--namespace", "odoo-operator",
        "--create-namespace", "--set", "defaults.ingressClass=nginx",
        "--set", "defaults.ingressIssuer=letsencrypt-prod",
    )  # fmt: skip
    out = helm_here(*install)
    assert "STATUS: deployed" in out
    assert "kubectl create secret generic postgres-clusters -n odoo-operator" in out  # NOTES
    for kind in CRD_KINDS:
        kubectl(config, "wait", "--for=condition=Established", f"crd/{kind.name}", "--timeout=50s")
    deployment = kubectl_json(config, "-n", "odoo-operator", "get", "deployment", "odoo-operator")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--default-ingress-class=nginx" in args
    configuration = kubectl_json(config, "get", "validatingwebhookconfiguration", "odoo-operator")
    assert len(configuration["webhooks"]) == len(CRD_KINDS)

    helm_here(*install, "--set", "operator.replicas=2")  # upgrade
    deployment = kubectl_json(config, "-n", "odoo-operator", "get", "deployment", "odoo-operator")
    assert deployment["spec"]["replicas"] == 2
    assert "REVISION: 2" in helm_here("status", "odoo-operator", "--namespace", "odoo-operator")

    helm_here("uninstall", "odoo-operator", "--namespace", "odoo-operator")
    gone = kubectl(config, "-n", "odoo-operator", "get", "deployment", "odoo-operator", check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr
    crds = yaml.safe_load(kubectl(config, "get", "crd", "-o", "yaml").stdout)
    names = {item["metadata"]["name"] for item in crds["items"]}
    assert {kind.name for kind in CRD_KINDS} <= names  # CRDs are kept, and so are the objects

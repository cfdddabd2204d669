"""The chart's CRD files installed once per session on the test control plane."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.kubectl import kubectl

ROOT = Path(__file__).resolve().parents[2]
CHART_CRDS = ROOT / "deploy" / "odoo-operator" / "crds"


@pytest.fixture(scope="session")
def installed_crds(control_plane: ControlPlane) -> Path:
    """Apply the committed chart CRDs (what users install) and wait until Established."""
    kubeconfig = control_plane.kubeconfig
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(CHART_CRDS))
    for kind in CRD_KINDS:
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Established",
            f"crd/{kind.name}",
            "--timeout=50s",
        )
    return kubeconfig

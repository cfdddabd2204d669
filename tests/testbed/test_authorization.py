"""The control plane can enforce RBAC, so the chart's roles can be tested for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.kubectl import kubectl

SOMEONE = "--as=system:serviceaccount:default:nobody"


@pytest.fixture(scope="module")
def rbac_plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    plane = ControlPlane(envtest_assets, tmp_path_factory.mktemp("rbac"), authorization="RBAC")
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


def test_rbac_denies_until_a_role_allows(rbac_plane: ControlPlane) -> None:
    config: Path = rbac_plane.kubeconfig
    denied = kubectl(
        config, "auth", "can-i", "list", "configmaps", "-n", "default", SOMEONE, check=False
    )
    assert denied.stdout.strip() == "no"
    kubectl(
        config,
        "-n",
        "default",
        "create",
        "role",
        "cm-reader",
        "--verb=list",
        "--resource=configmaps",
    )
    kubectl(
        config,
        "-n",
        "default",
        "create",
        "rolebinding",
        "cm-reader",
        "--role=cm-reader",
        "--serviceaccount=default:nobody",
    )
    allowed = kubectl(
        config, "auth", "can-i", "list", "configmaps", "-n", "default", SOMEONE, check=False
    )
    assert allowed.stdout.strip() == "yes"


def test_always_allow_allows_anyone(control_plane: ControlPlane) -> None:
    result = kubectl(
        control_plane.kubeconfig,
        "auth",
        "can-i",
        "list",
        "configmaps",
        "-n",
        "default",
        SOMEONE,
        check=False,
    )
    assert result.stdout.strip() == "yes"

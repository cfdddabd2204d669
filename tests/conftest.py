"""Session-wide real servers and per-test namespaces, on the sandbox's launchers.

- `control_plane`: etcd + kube-apiserver (assets found or built, see docs/testbed.md);
- `uncached_control_plane`: the same without the watch cache, for 410 Gone after compaction;
- `cluster`: a control plane of its own with the real kube-controller-manager and the pod
  simulator on top (operator image `odoo-operator:sandbox`): Deployments get pods that
  become ready, Jobs run, owners' deletions cascade. Tests on `control_plane` move
  Deployment and Job status by hand instead and must not use it; no operator runs on
  it, so tests may run their own;
- `sandbox`: the whole system as `odoo-operator sandbox` runs it (the same `Sandbox`):
  its own cluster, PostgreSQL, S3, CRDs, seeded namespace and the operator with its
  webhook registered, for end-to-end tests;
- `postgres_server`: a throwaway PostgreSQL with password auth;
- `s3_server`: moto's S3 endpoint;
- `api_client` / `namespace`: a kubernetes_asyncio client and a fresh namespace per test
  (deleted namespaces stay Terminating on a bare apiserver, so never reuse one);
- `installed_crds`: the chart's CRDs applied once per session on `control_plane`.

Each server starts on first use only. At the end of the session no process a test
started, and no temporary directory of ours, may be left: `tests/leakcheck.py`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import settings
from kubernetes_asyncio.client import ApiClient, CoreV1Api
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.sandbox.assets import AssetsMissing, EnvtestAssets, find_assets
from odoo_operator.sandbox.controllermanager import ControllerManager
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.podsim.launcher import PodSimulator
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.runner import SANDBOX_OPERATOR_IMAGE, Sandbox
from odoo_operator.sandbox.s3 import S3Server
from tests.kubectl import kubectl

CHART_CRDS = Path(__file__).resolve().parents[1] / "deploy" / "odoo-operator" / "crds"

pytest_plugins = ("tests.leakcheck",)

# No per-example time limit for property tests: on a loaded machine an example of 0.1 ms
# has taken 340 ms, and durations are measured in tests/bench/, not asserted.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")


def _prepare_assets(config: pytest.Config) -> None:
    """Find or build kube-apiserver and kube-controller-manager where progress is seen.

    Assets without a controller manager (a `KUBEBUILDER_ASSETS` of setup-envtest) still
    serve every test but those on `cluster`, which then fail with the reason.
    """
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        find_assets()
        try:
            find_assets(controller_manager=True)
        except AssetsMissing as missing:
            print(f"tests on the `cluster` fixture cannot run: {missing}")


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, the controller finds or builds the assets before workers start.

    Workers' output never reaches the terminal, and a first build takes minutes: it
    must happen where its progress is seen, and outside any test's timeout.
    """
    distributed = getattr(config.option, "numprocesses", None)
    if distributed and not hasattr(config, "workerinput"):
        _prepare_assets(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without xdist: find or build the assets before the first test, if a test needs them.

    Unit-test-only runs skip this.
    """
    if any("envtest_assets" in getattr(item, "fixturenames", ()) for item in session.items):
        _prepare_assets(session.config)


@pytest.fixture(scope="session")
def envtest_assets() -> EnvtestAssets:
    return find_assets()


class _Part(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@contextmanager
def _running(part: _Part) -> Iterator[None]:
    """Start a server for the session, always stop it."""
    try:
        part.start()
        yield
    finally:
        part.stop()


@pytest.fixture(scope="session")
def control_plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    plane = ControlPlane(envtest_assets, tmp_path_factory.mktemp("controlplane"))
    with _running(plane):
        yield plane


@pytest.fixture(scope="session")
def uncached_control_plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A second control plane without the watch cache: etcd compaction gives real 410s."""
    plane = ControlPlane(
        envtest_assets, tmp_path_factory.mktemp("controlplane-uncached"), watch_cache=False
    )
    with _running(plane):
        yield plane


@dataclass(frozen=True)
class Cluster:
    """A control plane that behaves like a cluster: controllers and a node run on it."""

    plane: ControlPlane
    controller_manager: ControllerManager
    pod_simulator: PodSimulator

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    @property
    def operator_image(self) -> str:
        return self.pod_simulator.operator_image


@pytest.fixture(scope="session")
def cluster(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    assets = find_assets(controller_manager=True)
    assert assets.kube_controller_manager is not None
    run_dir = tmp_path_factory.mktemp("cluster")
    plane = ControlPlane(assets, run_dir / "controlplane")
    manager = ControllerManager(assets.kube_controller_manager, plane, plane.run_dir)
    with _running(plane), _running(manager):
        simulator = PodSimulator(plane, run_dir / "kubelet", SANDBOX_OPERATOR_IMAGE)
        with _running(simulator):
            yield Cluster(plane, manager, simulator)


@pytest.fixture(scope="session")
def sandbox(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """`odoo-operator sandbox` in this process: `.kubeconfig`, `.info()` (sandbox.json),
    `.operator`, `.postgres`, `.s3`, `.pod_simulator`, `.control_plane`."""
    directory = tmp_path_factory.mktemp("sandbox")
    system = Sandbox(run_dir=directory / "run", kubeconfig_out=directory / "sandbox.kubeconfig")
    with _running(system):
        yield system


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    with _running(server):
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3"))
    with _running(server):
        yield server


@pytest.fixture
def kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture
async def api_client(control_plane: ControlPlane) -> AsyncIterator[ApiClient]:
    client = await new_client_from_config(config_file=str(control_plane.kubeconfig))
    async with client:
        yield client


@pytest.fixture
async def namespace(api_client: ApiClient) -> str:
    name = f"t-{secrets.token_hex(4)}"
    await CoreV1Api(api_client).create_namespace({"metadata": {"name": name}}, _request_timeout=30)
    return name


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

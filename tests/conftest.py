"""Session-wide real servers and per-test namespaces, on the sandbox's launchers.

- `control_plane`: etcd + kube-apiserver (assets found or built, see docs/testbed.md);
- `uncached_control_plane`: the same without the watch cache, for 410 Gone after compaction;
- `postgres_server`: a throwaway PostgreSQL with password auth;
- `s3_server`: moto's S3 endpoint;
- `api_client` / `namespace`: a kubernetes_asyncio client and a fresh namespace per test
  (deleted namespaces stay Terminating on a bare apiserver, so never reuse one);
- `installed_crds`: the chart's CRDs applied once per session on `control_plane`.

Each server starts on first use only. At the end of the session every PID the fixtures
started must be gone, or the session fails (an error, reported under xdist too).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.sandbox.assets import EnvtestAssets, find_assets
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.process import pid_alive
from odoo_operator.sandbox.s3 import S3Server
from tests.kubectl import kubectl

CHART_CRDS = Path(__file__).resolve().parents[1] / "deploy" / "odoo-operator" / "crds"

_started_pids: list[int] = []


def _prepare_assets(config: pytest.Config) -> None:
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        find_assets()


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
    def pids(self) -> list[int]: ...


@contextmanager
def _running(part: _Part) -> Iterator[None]:
    """Start a server for the session, remember its PIDs, always stop it."""
    try:
        part.start()
        _started_pids.extend(part.pids())
        yield
    finally:
        _started_pids.extend(part.pids())  # also servers restarted during the session
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


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_session() -> Iterator[None]:
    """Set up first, torn down last: fails (an error in the report, also under xdist) if
    any server process a fixture started is still running after its fixture stopped it."""
    yield
    alive = [pid for pid in _started_pids if pid_alive(pid)]
    assert alive == [], f"processes started by the test fixtures are still running: {alive}"

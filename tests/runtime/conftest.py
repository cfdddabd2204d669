"""Fixtures of the runtime tests.

- `runtime_plane`: a control plane of our own (no watch cache, so etcd compaction gives
  real 410s) for tests that kill the API server, compact etcd or break connections.
  It never touches the session's shared `control_plane`. Each test gets it running.
- `proxy`: a misbehaving loopback TCP proxy in front of `runtime_plane`, and
  `proxied_kubeconfig` pointing a client through it.
- `metrics` / `kube`: a fresh metrics registry and a `KubeClient` on the shared plane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from odoo_operator.runtime.client import KubeClient, connect
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.tcpproxy import TcpProxy


@pytest.fixture(scope="session")
def runtime_plane_session(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    plane = ControlPlane(
        envtest_assets, tmp_path_factory.mktemp("runtime-controlplane"), watch_cache=False
    )
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def runtime_plane(runtime_plane_session: ControlPlane) -> ControlPlane:
    """The destructive tests' own control plane, its API server running."""
    apiserver = runtime_plane_session.apiserver
    if apiserver is None or not apiserver.running():
        runtime_plane_session.start_apiserver()
    return runtime_plane_session


@pytest.fixture
async def proxy(runtime_plane: ControlPlane) -> AsyncIterator[TcpProxy]:
    tcp_proxy = TcpProxy(runtime_plane.port)
    await tcp_proxy.start()
    try:
        yield tcp_proxy
    finally:
        await tcp_proxy.stop()


def kubeconfig_through(plane: ControlPlane, port: int, path: Path) -> Path:
    """A copy of the plane's kubeconfig that connects to 127.0.0.1:`port` instead."""
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def proxied_kubeconfig(runtime_plane: ControlPlane, proxy: TcpProxy, tmp_path: Path) -> Path:
    return kubeconfig_through(runtime_plane, proxy.port, tmp_path / "proxied.kubeconfig")


@pytest.fixture
def metrics() -> RuntimeMetrics:
    return RuntimeMetrics(process_metrics=False)


@pytest.fixture
async def kube(control_plane: ControlPlane, metrics: RuntimeMetrics) -> AsyncIterator[KubeClient]:
    client = await connect(control_plane.kubeconfig, metrics)
    try:
        yield client
    finally:
        await client.close()

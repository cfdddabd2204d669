"""Fixtures of the runtime tests.

- `runtime_plane`: the session's `uncached_control_plane` (no watch cache, so etcd
  compaction gives real 410s) for tests that kill the API server, compact etcd or break
  connections. It never touches the shared `control_plane`. Each test gets it running.
- `proxy`: a misbehaving loopback TCP proxy in front of `runtime_plane`, and
  `proxied_kubeconfig` pointing a client through it.
- `metrics` / `kube`: a fresh metrics registry and a `KubeClient` on the shared plane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from odoo_operator.runtime.client import KubeClient, connect
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.tcpproxy import TcpProxy


@pytest.fixture
def runtime_plane(uncached_control_plane: ControlPlane) -> ControlPlane:
    """The session's watch-cache-less plane (not the shared `control_plane`), running.

    Tests here kill its API server, compact its etcd or break connections to it; a test
    that killed the API server leaves it to the next one to start it again.
    """
    apiserver = uncached_control_plane.apiserver
    if apiserver is None or not apiserver.running():
        uncached_control_plane.start_apiserver()
    return uncached_control_plane


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

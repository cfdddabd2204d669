"""OdooInstance benchmark: converge N instances with the bare-client floor, the kopf peer
and our operator (with and without PostgreSQL roles), on one API server, in one run.

The peers are `../shared/peers` (`bench.py`, `workload.py`, `kopf_ref.py`): the same seven
children and a status phase per instance. Each contestant runs alone on the API server;
between runs the instances and their children are removed. For ours also: the latency
from a create to its web Deployment at idle (one instance at a time). Prints figures.
Run: `flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/test_instance_bench.py -m bench -s`
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import watch
from kubernetes_asyncio.client import AppsV1Api, CoreV1Api, CustomObjectsApi
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import free_port
from odoo_operator.sandbox.postgres import PostgresServer
from tests.kubectl import kubectl

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "deploy" / "odoo-operator" / "crds"
SIZES = [int(n) for n in os.environ.get("BENCH_INSTANCES", "200,1000").split(",")]
LATENCY_SAMPLES = 40


def peers_dir() -> Path | None:
    for candidate in (ROOT.parent / "shared" / "peers", ROOT.parents[1] / "shared" / "peers"):
        if (candidate / "bench.py").is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ControlPlane, PostgresServer]]:
    control_plane = ControlPlane(
        envtest_assets,
        tmp_path_factory.mktemp("bench-instance"),
        service_cluster_ip_range="10.0.0.0/16",  # a Service per instance: more than 254
    )
    postgres = PostgresServer(tmp_path_factory.mktemp("bench-pg"))
    try:
        control_plane.start()
        postgres.start()
        kubectl(control_plane.kubeconfig, "apply", "--server-side", "-f", str(CRDS))
        kubectl(control_plane.kubeconfig, "wait", "--for=condition=Established", "crd", "--all")
        kubectl(control_plane.kubeconfig, "create", "namespace", "odoo-operator")
        main = {"host": postgres.host, "port": postgres.port, "adminUser": postgres.user,
                "adminPassword": postgres.password, "default": True}  # fmt: skip
        text = yaml.safe_dump({"main": main})
        secret = {"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "postgres-clusters", "namespace": "odoo-operator"},
                  "data": {"clusters.yaml": base64.b64encode(text.encode()).decode()}}  # fmt: skip
        kubectl(control_plane.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(secret))
        yield control_plane, postgres
    finally:
        postgres.stop()
        control_plane.stop()


def clear(plane: ControlPlane, namespace: str) -> None:
    """Remove the run's instances (finalizers dropped: their operator is gone) and children."""
    kc = plane.kubeconfig
    names = kubectl(kc, "get", "odooinstances", "-n", namespace, "-o", "name").stdout.split()
    for name in names:
        kubectl(kc, "patch", name, "-n", namespace, "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False)  # fmt: skip
    for kind in (
        "odooinstances",
        "odooinitjobs",
        "deployments",
        "secrets",
        "pvc",
        "services",
        "ingresses",
    ):
        kubectl(kc, "delete", kind, "--all", "-n", namespace, "--wait=false", check=False)


def start_ours(plane: ControlPlane, *extra: str) -> subprocess.Popen[bytes]:
    """Our operator, returned once its caches are synced (`/readyz`)."""
    health = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "tests.bench.instance_operator",
            "--kubeconfig", str(plane.kubeconfig), "--health", health, *extra]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _ready(f"http://{health}/readyz"):
        assert process.poll() is None, "operator exited"
        assert time.monotonic() < deadline, "operator not ready"
        time.sleep(0.2)
    return process


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_peer(
    plane: ControlPlane, peers: Path, n: int, peer: str, pid: int | None = None
) -> tuple[str, str]:
    argv = [sys.executable, str(peers / "bench.py"), str(plane.kubeconfig), str(n), peer]
    if pid is not None:
        argv.append(str(pid))
    done = subprocess.run(argv, cwd=peers, capture_output=True, text=True, timeout=1800, check=True)
    lines = done.stdout.strip().splitlines()
    namespace = lines[0].removeprefix("namespace=")
    return namespace, lines[-1]


async def latency(plane: ControlPlane) -> list[float]:
    """Seconds from a create to the web Deployment's ADDED event, one instance at a time."""
    api = await new_client_from_config(config_file=str(plane.kubeconfig))
    samples: list[float] = []
    async with api:
        core, objects, apps = CoreV1Api(api), CustomObjectsApi(api), AppsV1Api(api)
        namespace = f"latency-{int(time.time())}"
        await core.create_namespace({"metadata": {"name": namespace}})
        for index in range(LATENCY_SAMPLES):
            name = f"lat{index:03d}"
            listed = await apps.list_namespaced_deployment(namespace)
            stream = watch.Watch()
            events = stream.stream(
                apps.list_namespaced_deployment, namespace,
                resource_version=listed.metadata.resource_version, timeout_seconds=30,
            )  # fmt: skip
            started = time.perf_counter()
            await objects.create_namespaced_custom_object(
                "bemade.org", "v1alpha1", namespace, "odooinstances",
                {"apiVersion": "bemade.org/v1alpha1", "kind": "OdooInstance",
                 "metadata": {"name": name},
                 "spec": {"ingress": {"hosts": [f"{name}.example.com"]}}},
            )  # fmt: skip
            async for event in events:
                if event["type"] == "ADDED" and event["object"].metadata.name == name:
                    samples.append(time.perf_counter() - started)
                    break
            stream.stop()
            await asyncio.sleep(0.3)  # idle between samples: one create at a time
    return samples


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.bench
@pytest.mark.timeout(5400)
def test_converge_floor_kopf_ours(plane: tuple[ControlPlane, PostgresServer]) -> None:
    control_plane, _ = plane
    peers = peers_dir()
    if peers is None:
        pytest.skip("../shared/peers not found")
    lines: list[str] = []
    for n in SIZES:
        for peer in ("floor", "kopf"):
            namespace, line = run_peer(control_plane, peers, n, peer)
            lines.append(line)
            print(line, flush=True)
            clear(control_plane, namespace)
        for label, extra in (("ours-without-postgres", ("--without-postgres",)), ("ours", ())):
            process = start_ours(control_plane, *extra)
            try:
                namespace, line = run_peer(control_plane, peers, n, "external", process.pid)
            finally:
                stop(process)
            line = line.replace("peer=external", f"peer={label}")
            lines.append(line)
            print(line, flush=True)
            clear(control_plane, namespace)
    process = start_ours(control_plane)
    try:
        samples = asyncio.run(latency(control_plane))
    finally:
        stop(process)
    print(
        f"latency create->web Deployment (ours, with PostgreSQL, idle, {len(samples)} samples): "
        f"p50={statistics.median(samples) * 1000:.0f}ms "
        f"p99={percentile(samples, 0.99) * 1000:.0f}ms",
        flush=True,
    )
    assert len(lines) == 4 * len(SIZES)

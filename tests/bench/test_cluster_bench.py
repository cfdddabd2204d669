"""The sandbox's cluster: start-up of its parts, Deployment -> pods Ready, Job -> Complete.

A control plane of its own with kube-controller-manager and the pod simulator. Times the
start of each part, a Deployment of 1 and of 10 simulated Odoo pods (no probe delay)
until `readyReplicas` says so, and a Job whose operator-image container runs for real,
until Complete; then the resident memory of the controller manager and the simulator.
Prints figures; asserts only that the work was done, never how fast.
Run: `flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/test_cluster_bench.py -m bench -s`
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_operator.runtime import KubeObject, ObjectKey
from odoo_operator.runtime.client import connect
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import DEPLOYMENTS, NAMESPACES
from odoo_operator.sandbox.assets import find_assets
from odoo_operator.sandbox.controllermanager import ControllerManager
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.podsim.launcher import PodSimulator
from tests.sandbox.conftest import BATCH_JOBS, job_body, job_condition, wait_for
from tests.sandbox.test_cluster import web_deployment

pytestmark = pytest.mark.bench


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed(start: Callable[[], None]) -> float:
    began = time.monotonic()
    start()
    return time.monotonic() - began


def _ready(count: int) -> Callable[[KubeObject | None], bool]:
    return lambda d: bool(d and (d.get("status") or {}).get("readyReplicas") == count)


async def test_cluster_figures(tmp_path: Path) -> None:
    assets = find_assets(controller_manager=True)
    assert assets.kube_controller_manager is not None
    plane = ControlPlane(assets, tmp_path / "controlplane")
    manager = ControllerManager(assets.kube_controller_manager, plane, plane.run_dir)
    simulator = PodSimulator(plane, tmp_path / "kubelet", "odoo-operator:sandbox")
    figures: list[tuple[str, str]] = []
    try:
        figures.append(("etcd + kube-apiserver ready", f"{_timed(plane.start):.1f} s"))
        figures.append(("kube-controller-manager caches synced", f"{_timed(manager.start):.1f} s"))
        figures.append(("pod simulator healthy", f"{_timed(simulator.start):.1f} s"))
        kube = await connect(plane.kubeconfig, RuntimeMetrics(process_metrics=False))
        try:
            await kube.create(NAMESPACES, {"metadata": {"name": "bench"}})
            for replicas in (1, 10):
                name = f"web-{replicas}"
                began = time.monotonic()
                await kube.create(DEPLOYMENTS, web_deployment(name, replicas, 0), "bench")
                key = ObjectKey("bench", name)
                await wait_for(kube, DEPLOYMENTS, key, _ready(replicas), "ready", within=300)
                figures.append(
                    (f"Deployment of {replicas} -> all Ready", f"{time.monotonic() - began:.1f} s")
                )
            container = {
                "name": "c",
                "image": simulator.operator_image,
                "command": ["python3", "-c", "pass"],
            }
            began = time.monotonic()
            await kube.create(BATCH_JOBS, job_body("quick", [container]), "bench")
            await wait_for(
                kube, BATCH_JOBS, ObjectKey("bench", "quick"), job_condition("Complete"), "done"
            )
            figures.append(("Job (real process) -> Complete", f"{time.monotonic() - began:.1f} s"))
        finally:
            await kube.close()
        figures.append(("kube-controller-manager RSS", f"{_rss_mib(manager.process.pid):.0f} MiB"))
        figures.append(
            ("pod simulator RSS (11 pods)", f"{_rss_mib(simulator.process.pid):.0f} MiB")
        )
    finally:
        simulator.stop()
        manager.stop()
        plane.stop()
    print("\n| step | figure |\n|---|---|")
    for step, figure in figures:
        print(f"| {step} | {figure} |")

"""Runtime benchmark: events per second through one informer + controller, and the RSS
each 1,000 cached objects cost, with 10,000 ConfigMaps on a control plane of its own.

The write load comes from another process (`runtime_writer`), so this process's CPU
time is the informer's and the controller's alone; that gives the capacity figure
(events per CPU-second) besides the end-to-end rate, which the API server's write rate
bounds. RSS comes from a third process that only caches (`runtime_rss_probe`).
Prints figures; asserts only that the work was done, never how fast.
Run: `flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/test_runtime_bench.py -m bench -s`
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_operator.runtime import DONE, ObjectKey, Result
from odoo_operator.runtime.client import connect
from odoo_operator.runtime.controller import Controller
from odoo_operator.runtime.informers import SharedInformers
from odoo_operator.runtime.logs import configure_logging
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import CONFIG_MAPS
from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.helpers import sample, total

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = 10_000
UPDATES = 5_000
NAMESPACE = "bench"


@pytest.fixture(scope="module")
def plane(
    envtest_assets: EnvtestAssets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane of its own (with the watch cache, as in production)."""
    control_plane = ControlPlane(envtest_assets, tmp_path_factory.mktemp("bench-runtime"))
    try:
        control_plane.start()
        yield control_plane
    finally:
        control_plane.stop()


def helper(plane: ControlPlane, module: str, *args: str) -> dict[str, float]:
    """Run a benchmark helper module in its own process; return its JSON answer."""
    argv = [sys.executable, "-m", f"tests.bench.{module}", "--kubeconfig", str(plane.kubeconfig)]
    done = subprocess.run(
        [*argv, "--namespace", NAMESPACE, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    answer: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


class Counting:
    """A reconciler that only counts (what we measure is the machinery around it)."""

    def __init__(self) -> None:
        self.seen: set[ObjectKey] = set()

    async def reconcile(self, key: ObjectKey) -> Result:
        self.seen.add(key)
        return DONE


async def until(condition: Callable[[], bool], state: Callable[[], str], limit: float) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            raise AssertionError(f"benchmark did not finish: {state()}")
        await asyncio.sleep(0.005)


async def measure_events(plane: ControlPlane) -> dict[str, float]:
    configure_logging("text", "warning")  # debug lines would cost more than the work
    metrics = RuntimeMetrics(process_metrics=False)
    client = await connect(plane.kubeconfig, metrics)
    informers = SharedInformers(client, metrics=metrics)
    scope = {"resource": "configmaps", "namespace": NAMESPACE}
    reconciler = Counting()
    controller = Controller("bench", reconciler, informers, namespace=NAMESPACE)
    controller.for_(CONFIG_MAPS)
    informer = informers.get(CONFIG_MAPS, NAMESPACE)
    assert informers.all() == [informer]  # one informer, shared with the controller
    results: dict[str, float] = {}
    try:
        # 1. The first list: pages -> cache -> handler -> queue -> reconcile.
        wall, cpu = time.monotonic(), time.process_time()
        informers.start()
        controller.start()
        await until(
            lambda: len(reconciler.seen) == OBJECTS and controller.queue.idle(),
            lambda: f"{len(reconciler.seen)} reconciled",
            300,
        )
        results["list_events_per_second"] = OBJECTS / (time.monotonic() - wall)
        results["list_events_per_cpu_second"] = OBJECTS / (time.process_time() - cpu)

        # 2. Watch events: UPDATES patches from the writer process, each reconciled.
        reconciler.seen = set()
        cpu = time.process_time()
        writer = asyncio.create_task(
            asyncio.to_thread(helper, plane, "runtime_writer", "patch", str(UPDATES))
        )
        await until(
            lambda: len(reconciler.seen) == UPDATES and controller.queue.idle(),
            lambda: (
                f"{len(reconciler.seen)} reconciled, "
                f"restarts {total(metrics.registry, 'informer_watch_restarts_total', **scope)}"
            ),
            600,
        )
        done, cpu_used = time.time(), time.process_time() - cpu
        written = await writer
        results["patches_per_second"] = UPDATES / (written["finished"] - written["started"])
        results["watch_events_per_second"] = UPDATES / (done - written["started"])
        results["watch_lag_seconds"] = done - written["finished"]
        results["watch_events_per_cpu_second"] = UPDATES / cpu_used
        lists = sample(metrics.registry, "informer_lists_total", **scope)
        results["relists_during_the_run"] = lists - 1
    finally:
        await controller.stop(5)
        await informers.stop()
        await client.close()
    return results


@pytest.mark.bench
@pytest.mark.timeout(1800)
def test_runtime_throughput_and_memory(plane: ControlPlane) -> None:
    creation = helper(plane, "runtime_writer", "create", str(OBJECTS))
    created = creation["finished"] - creation["started"]
    results = asyncio.run(measure_events(plane))
    rss = helper(plane, "runtime_rss_probe")
    assert rss["objects"] == OBJECTS
    per_thousand = (rss["rss_after"] - rss["rss_before"]) / 2**20 / (OBJECTS / 1000)
    lines = [
        ("ConfigMaps created (16 writers)", OBJECTS / created, "objects/s"),
        ("first list -> cache -> reconcile", results["list_events_per_second"], "events/s"),
        (
            "  same, per CPU-second of this process",
            results["list_events_per_cpu_second"],
            "events/s",
        ),
        ("patches sent (other process, 16 writers)", results["patches_per_second"], "/s"),
        ("watch -> cache -> reconcile, end to end", results["watch_events_per_second"], "events/s"),
        ("  last reconcile after the last patch", results["watch_lag_seconds"], "s"),
        (
            "  same, per CPU-second of this process",
            results["watch_events_per_cpu_second"],
            "events/s",
        ),
        ("relists during the run", results["relists_during_the_run"], ""),
        ("RSS before the informer", rss["rss_before"] / 2**20, "MB"),
        (f"RSS with {OBJECTS:,} objects cached", rss["rss_after"] / 2**20, "MB"),
        ("RSS per 1,000 cached objects", per_thousand, "MB"),
    ]
    print(
        f"\nruntime benchmark: {OBJECTS:,} ConfigMaps (~200 B of data each), {os.cpu_count()} cores"
    )
    for label, value, unit in lines:
        print(f"  {label:<42} {value:10.2f} {unit}")
    assert results["relists_during_the_run"] == 0

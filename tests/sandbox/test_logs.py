"""`kubectl logs` through the API server to the pod simulator's kubelet endpoint."""

from __future__ import annotations

import asyncio
import re

from odoo_operator.runtime import KubeClient, ObjectKey
from odoo_operator.runtime.resources import PODS
from tests.conftest import Cluster
from tests.kubectl import KUBECTL, kubectl
from tests.sandbox.conftest import phase_is, pod_body, python_container, wait_for
from tests.sandbox.test_pods import _claim_dir

WAITING_PRINTER = (
    "import os, sys, time\n"
    "for n in (1, 2, 3): print('line', n, flush=True)\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "while not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"
    "print('last', flush=True)\n"
)


async def _read_line(process: asyncio.subprocess.Process, within: float = 30) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(within):
        return (await process.stdout.readline()).decode()


async def test_logs_follow_tail_and_timestamps(cluster: Cluster, kube: KubeClient, ns: str) -> None:
    data = await _claim_dir(cluster, kube, ns, "data")
    mount = [{"name": "data", "mountPath": "/data"}]
    container = python_container(cluster, "main", WAITING_PRINTER, "/data/go", volumeMounts=mount)
    pod = pod_body("printer", [container])
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    await kube.create(PODS, pod, ns)
    await wait_for(kube, PODS, ObjectKey(ns, "printer"), phase_is("Running"), "running")

    follow = await asyncio.create_subprocess_exec(
        *(KUBECTL, f"--kubeconfig={cluster.kubeconfig}", "-n", ns, "logs", "-f", "printer"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        seen = [await _read_line(follow) for _ in range(4)]
        assert seen == ["line 1\n", "line 2\n", "line 3\n", "to stderr\n"]
        tail = kubectl(cluster.kubeconfig, "-n", ns, "logs", "printer", "--tail=2").stdout
        assert tail == "line 3\nto stderr\n"
        stamped = kubectl(cluster.kubeconfig, "-n", ns, "logs", "printer", "--timestamps")
        first = stamped.stdout.splitlines()[0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line 1", first), first
        (data / "go").touch()
        assert await _read_line(follow) == "last\n"
        async with asyncio.timeout(30):
            assert await follow.wait() == 0  # the stream ends with the container
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()
    await wait_for(kube, PODS, ObjectKey(ns, "printer"), phase_is("Succeeded"), "done")


async def test_logs_errors_come_from_the_node(cluster: Cluster, kube: KubeClient, ns: str) -> None:
    pod = pod_body("once", [python_container(cluster, "main", "print('hi')")])
    await kube.create(PODS, pod, ns)
    await wait_for(kube, PODS, ObjectKey(ns, "once"), phase_is("Succeeded"), "done")
    previous = kubectl(cluster.kubeconfig, "-n", ns, "logs", "once", "--previous", check=False)
    assert previous.returncode != 0
    assert 'previous terminated container "main" in pod "once" not found' in previous.stderr
    assert kubectl(cluster.kubeconfig, "-n", ns, "logs", "once").stdout == "hi\n"

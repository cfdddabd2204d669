"""The Node object the pod simulator registers: one Ready node on loopback.

Guarantees: the Node is `Ready`, reports this machine's CPUs, memory and disk as its
capacity (110 pods), has one address, `InternalIP` 127.0.0.1, and names the port of
the node agent's kubelet endpoint in `daemonEndpoints.kubeletEndpoint`, which is where
the API server fetches `kubectl logs`. Registering again (a restarted agent) updates it.
No node lifecycle controller runs, so no heartbeat is needed to stay Ready.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from odoo_operator.runtime import ApiError, KubeClient
from odoo_operator.runtime.resources import Resource
from odoo_operator.sandbox.kubernetes_build import KUBERNETES_VERSION
from odoo_operator.sandbox.ports import LOOPBACK

NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
MAX_PODS = 110


def _memory_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def node_object(name: str, kubelet_port: int, disk: Path) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_kib()}Ki",
        "ephemeral-storage": f"{shutil.disk_usage(disk).total // 1024}Ki",
        "pods": str(MAX_PODS),
    }

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64" if platform.machine() == "x86_64" else "arm64",
                "node.kubernetes.io/instance-type": "odoo-operator-sandbox",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
                condition("Ready", "True", "KubeletReady", "the pod simulator is running"),
            ],
            "addresses": [{"type": "InternalIP", "address": LOOPBACK}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": platform.release(),
                "osImage": "odoo-operator sandbox",
                "containerRuntimeVersion": "sandbox://1",
                "kubeletVersion": f"v{KUBERNETES_VERSION}",
                "kubeProxyVersion": f"v{KUBERNETES_VERSION}",
                "operatingSystem": "linux",
                "architecture": "amd64" if platform.machine() == "x86_64" else "arm64",
            },
        },
    }


async def register(client: KubeClient, body: dict[str, Any]) -> None:
    """Create the Node, or bring an existing one up to date."""
    try:
        await client.create(NODES, body)
        return
    except ApiError as error:
        if not error.conflict:
            raise
    name = body["metadata"]["name"]
    await client.merge_patch(NODES, name, {"metadata": body["metadata"]})
    await client.merge_patch(NODES, name, {"status": body["status"]}, subresource="status")

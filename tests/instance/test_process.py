"""`odoo-operator run` as a real process: killed mid-lifecycle and restarted; the seed
README's walkthrough observed through `kubectl` only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api

from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.kubelet import set_deployment_ready
from odoo_operator.sandbox.ports import free_port
from tests.instance.conftest import Operator, batch_job_of, play_init_job, wait_for_replicas
from tests.kubectl import kubectl, kubectl_json

pytestmark = pytest.mark.usefixtures("installed_crds", "clusters")


@contextmanager
def operator_process(
    kubeconfig: Path,
    namespace: str,
    operator_namespace: str,
    log: Path,
    *extra_args: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    argv = [
        sys.executable, "-m", "odoo_operator", "run", "--no-leader-elect",
        "--watch-namespace", namespace, "--operator-namespace", operator_namespace,
        "--metrics-bind-address", "0", "--health-probe-bind-address", f"127.0.0.1:{free_port()}",
        "--log-format", "json",
        "--webhook-port", "0",  # no certificate here; tests/webhook serve it
        *extra_args,
    ]  # fmt: skip
    env = {"PATH": os.environ["PATH"], "KUBECONFIG": str(kubeconfig), "HOME": str(log.parent)}
    env |= extra_env or {}
    with log.open("ab") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _phase(kubeconfig: Path, namespace: str, name: str) -> str:
    result = kubectl(
        kubeconfig, "get", "odoo", name, "-n", namespace, "-o", "jsonpath={.status.phase}",
        check=False,
    )  # fmt: skip
    return result.stdout


async def _until_phase(kubeconfig: Path, namespace: str, name: str, phase: str) -> None:
    deadline = time.monotonic() + 60
    while (seen := await asyncio.to_thread(_phase, kubeconfig, namespace, name)) != phase:
        assert time.monotonic() < deadline, f"{name}: phase {seen!r}, not {phase}"
        await asyncio.sleep(0.2)


async def _password(api: ApiClient, namespace: str, name: str) -> str:
    secret = await CoreV1Api(api).read_namespaced_secret(f"{name}-odoo-user", namespace)
    return base64.b64decode(secret.data["password"]).decode()


def _phase_changes(log: Path) -> list[str]:
    changes = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "phase changed":
            changes.append(f"{entry['previous']}->{entry['phase']}")
    return changes


async def test_killed_mid_lifecycle_and_restarted_picks_up_where_it_was(
    control_plane: ControlPlane, api_client: ApiClient, namespace: str, operator_namespace: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    kubeconfig, log = control_plane.kubeconfig, tmp_path / "operator.log"
    operator = Operator(None, None, api_client, namespace)  # type: ignore[arg-type]
    with operator_process(kubeconfig, namespace, operator_namespace, log) as first:
        await operator.create("shop", {"init": {}})
        await _until_phase(kubeconfig, namespace, "shop", "Initializing")
        await batch_job_of(operator, "odooinitjobs", "shop-auto-init")  # the init runs
        password = await _password(api_client, namespace, "shop")
        first.send_signal(signal.SIGKILL)
        first.wait()
    await play_init_job(operator, "shop-auto-init")  # the init finishes while it is down
    with operator_process(kubeconfig, namespace, operator_namespace, log):
        await _until_phase(kubeconfig, namespace, "shop", "Starting")
        await wait_for_replicas(operator, "shop", 1)
        await set_deployment_ready(api_client, namespace, "shop", 1)
        await _until_phase(kubeconfig, namespace, "shop", "Running")
    assert await _password(api_client, namespace, "shop") == password  # never regenerated
    assert _phase_changes(log) == [
        "Provisioning->Uninitialized",
        "Uninitialized->Initializing",
        "Initializing->Starting",
        "Starting->Running",
    ]


SEED_INSTANCE = """
apiVersion: bemade.org/v1alpha1
kind: OdooInstance
metadata:
  name: myodoo
  namespace: {namespace}
spec:
  image: odoo:18.0
  adminPassword: changeme
  replicas: 1
  ingress:
    hosts:
      - myodoo.example.com
"""

SEED_INIT = """
apiVersion: bemade.org/v1alpha1
kind: OdooInitJob
metadata:
  name: myodoo-init
  namespace: {namespace}
spec:
  odooInstanceRef:
    name: myodoo
"""


async def test_seed_walkthrough_through_kubectl(
    control_plane: ControlPlane, api_client: ApiClient, namespace: str, operator_namespace: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    kubeconfig = control_plane.kubeconfig
    operator = Operator(None, None, api_client, namespace)  # type: ignore[arg-type]
    with operator_process(kubeconfig, namespace, operator_namespace, tmp_path / "op.log"):
        kubectl(kubeconfig, "apply", "-f", "-", stdin=SEED_INSTANCE.format(namespace=namespace))
        await _until_phase(kubeconfig, namespace, "myodoo", "Uninitialized")
        odoo: dict[str, Any] = await asyncio.to_thread(
            kubectl_json, kubeconfig, "get", "odoo", "myodoo", "-n", namespace
        )
        assert odoo["metadata"]["finalizers"] == ["bemade.org/postgres-cleanup"]
        assert odoo["spec"]["database"]["cluster"] == "main"
        assert odoo["spec"]["filestore"] == {"storageSize": "2Gi", "storageClass": "standard"}
        listed = kubectl(kubeconfig, "get", "odoo", "-n", namespace).stdout
        assert "Uninitialized" in listed
        assert "odoo:18.0" in listed

        kubectl(kubeconfig, "apply", "-f", "-", stdin=SEED_INIT.format(namespace=namespace))
        await _until_phase(kubeconfig, namespace, "myodoo", "Initializing")
        await play_init_job(operator, "myodoo-init")  # the Job controller's and kubelet's part
        await _until_phase(kubeconfig, namespace, "myodoo", "Starting")
        await wait_for_replicas(operator, "myodoo", 1)
        await set_deployment_ready(api_client, namespace, "myodoo", 1)  # the kubelet's part
        await _until_phase(kubeconfig, namespace, "myodoo", "Running")
        url = kubectl(
            kubeconfig, "get", "odoo", "myodoo", "-n", namespace, "-o", "jsonpath={.status.url}"
        ).stdout
        assert url == "https://myodoo.example.com"

        kubectl(kubeconfig, "scale", "odoo", "myodoo", "-n", namespace, "--replicas=0")
        await _until_phase(kubeconfig, namespace, "myodoo", "Stopped")

        auto = SEED_INSTANCE.format(namespace=namespace).replace("myodoo", "auto") + "  init: {}\n"
        kubectl(kubeconfig, "apply", "-f", "-", stdin=auto)
        await _until_phase(kubeconfig, namespace, "auto", "Initializing")
        init = await asyncio.to_thread(
            kubectl_json, kubeconfig, "get", "odooinitjob", "auto-auto-init", "-n", namespace
        )
        assert init["spec"] == {
            "odooInstanceRef": {"name": "auto"},
            "modules": ["base"],
            "demo": False,
        }

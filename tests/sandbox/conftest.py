"""Tests on the `cluster` fixture: a client, a fresh namespace, waiting on watches.

`wait_for` watches one object (an informer of the runtime, so a list and then a watch:
no polling) until a predicate holds or the object is gone, and fails naming what it saw
last. Helpers build the pods, Jobs and Deployments the tests share.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from odoo_operator.runtime import KubeClient, KubeObject, ObjectKey
from odoo_operator.runtime.client import connect
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.metrics import RuntimeMetrics

# The one import of the batch Job resource here (the runtime is renaming it BATCH_JOBS).
from odoo_operator.runtime.resources import BATCH_JOBS, NAMESPACES, Resource
from tests.conftest import Cluster
from tests.kubectl import KUBECTL

WAIT = 90.0
__all__ = ["BATCH_JOBS"]


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    client = await connect(cluster.kubeconfig, RuntimeMetrics(process_metrics=False))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ns(kube: KubeClient) -> str:
    name = f"s-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, {"metadata": {"name": name}})
    return name


class _Until:
    def __init__(self, key: ObjectKey, predicate: Callable[[KubeObject | None], bool]) -> None:
        self.key = key
        self.predicate = predicate
        self.met = asyncio.Event()
        self.last: KubeObject | None = None

    def check(self, obj: KubeObject | None) -> None:
        self.last = obj
        if self.predicate(obj):
            self.met.set()

    def on_add(self, obj: KubeObject) -> None:
        if obj["metadata"]["name"] == self.key.name:
            self.check(obj)

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self.on_add(new)

    def on_delete(self, obj: KubeObject) -> None:
        if obj["metadata"]["name"] == self.key.name:
            self.check(None)


async def wait_for(
    kube: KubeClient,
    resource: Resource,
    key: ObjectKey,
    predicate: Callable[[KubeObject | None], bool],
    what: str,
    *,
    within: float = WAIT,
) -> KubeObject | None:
    """Watch the object at `key` until `predicate(object, or None when absent)` holds."""
    informer = Informer(kube, resource, key.namespace or None)
    until = _Until(key, predicate)
    informer.add_handler(until)
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(within):
            await informer.wait_for_sync()
            if informer.store.get(key) is None:
                until.check(None)  # absent after the list: that may be what we wait for
            await until.met.wait()
    except TimeoutError:
        raise AssertionError(f"{resource.kind} {key} not {what}: {until.last}") from None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return until.last


async def log_line(
    kubeconfig: Path, namespace: str, pod: str, text: str, *, within: float = WAIT
) -> str:
    """Follow the pod's log (`kubectl logs -f`) until a line holds `text`; return that line."""
    follow = await asyncio.create_subprocess_exec(
        *(KUBECTL, f"--kubeconfig={kubeconfig}", "-n", namespace, "logs", "-f", pod),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert follow.stdout is not None
    try:
        async with asyncio.timeout(within):
            while line := (await follow.stdout.readline()).decode():
                if text in line:
                    return line
    except TimeoutError:
        pass
    finally:
        if follow.returncode is None:
            follow.kill()
        await follow.wait()
    raise AssertionError(f"no line with {text!r} in the log of {namespace}/{pod}")


def gone(obj: KubeObject | None) -> bool:
    return obj is None


def phase_is(*phases: str) -> Callable[[KubeObject | None], bool]:
    return lambda pod: pod is not None and (pod.get("status") or {}).get("phase") in phases


def job_condition(kind: str) -> Callable[[KubeObject | None], bool]:
    def holds(job: KubeObject | None) -> bool:
        conditions = ((job or {}).get("status") or {}).get("conditions") or ()
        return any(c["type"] == kind and c["status"] == "True" for c in conditions)

    return holds


def pod_ready(pod: KubeObject | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def container_status(pod: KubeObject, name: str) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return dict(next(s for s in statuses if s["name"] == name))


def pod_body(
    name: str, containers: list[dict[str, Any]], *, restart_policy: str = "Never", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart_policy, "containers": containers, **spec},
    }


def job_body(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": containers}},
            **spec,
        },
    }


def python_container(
    cluster: Cluster, name: str, code: str, *args: str, **extra: Any
) -> dict[str, Any]:
    """A container of the operator image that runs a Python snippet for real.

    Container paths must reach the snippet as `args` (or env values): those are
    translated to host directories, the snippet's own text is not.
    """
    return {
        "name": name,
        "image": cluster.operator_image,
        "command": ["python3", "-c", code, *args],
        **extra,
    }

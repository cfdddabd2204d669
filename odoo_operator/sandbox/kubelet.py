"""Playing the kubelet and the built-in controllers on a node-less control plane.

A bare kube-apiserver stores Deployments and Jobs but nothing ever runs them, so
their status never moves. Tests (and, later, the sandbox's pod simulator) move it
with these helpers, writing the status subresource exactly as the real controllers
would report it.
"""

from __future__ import annotations

import datetime as dt

from kubernetes_asyncio.client import ApiClient, AppsV1Api, BatchV1Api

MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = 30


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def set_deployment_ready(
    api: ApiClient, namespace: str, name: str, ready_replicas: int
) -> None:
    """Report `ready_replicas` pods of the Deployment as ready and up to date."""
    apps = AppsV1Api(api)
    deployment = await apps.read_namespaced_deployment(
        name, namespace, _request_timeout=REQUEST_TIMEOUT
    )
    status = {
        "observedGeneration": deployment.metadata.generation,
        "replicas": ready_replicas,
        "updatedReplicas": ready_replicas,
        "readyReplicas": ready_replicas,
        "availableReplicas": ready_replicas,
    }
    await apps.patch_namespaced_deployment_status(
        name,
        namespace,
        {"status": status},
        _content_type=MERGE_PATCH,
        _request_timeout=REQUEST_TIMEOUT,
    )


async def start_job(api: ApiClient, namespace: str, name: str) -> None:
    """Report one active pod for the Job, as the job controller does when it starts."""
    await BatchV1Api(api).patch_namespaced_job_status(
        name,
        namespace,
        {"status": {"active": 1, "startTime": _now()}},
        _content_type=MERGE_PATCH,
        _request_timeout=REQUEST_TIMEOUT,
    )


async def finish_job(
    api: ApiClient, namespace: str, name: str, *, succeeded: bool, message: str = ""
) -> None:
    """Mark the Job Complete (succeeded) or Failed, with the conditions the controller sets."""
    now = _now()
    condition = {
        "type": "Complete" if succeeded else "Failed",
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": "Completed" if succeeded else "BackoffLimitExceeded",
        "message": message
        or ("Job completed" if succeeded else "Job has reached the specified backoff limit"),
    }
    status: dict[str, object] = {"active": None, "conditions": [condition]}
    if succeeded:
        status |= {"succeeded": 1, "completionTime": now}
    else:
        status |= {"failed": 1}
    await BatchV1Api(api).patch_namespaced_job_status(
        name,
        namespace,
        {"status": status},
        _content_type=MERGE_PATCH,
        _request_timeout=REQUEST_TIMEOUT,
    )

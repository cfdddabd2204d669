"""The real controllers on the cluster fixture: Deployments, garbage collection, TTL, namespaces."""

from __future__ import annotations

import time
from collections.abc import Callable

from odoo_operator.runtime import KubeClient, KubeObject, ObjectKey
from odoo_operator.runtime.resources import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    Resource,
)
from odoo_operator.sandbox.podsim.launcher import NODE_NAME
from tests.conftest import Cluster
from tests.sandbox.conftest import (
    BATCH_JOBS,
    container_status,
    gone,
    job_body,
    job_condition,
    pod_ready,
    python_container,
    wait_for,
)

REPLICA_SETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")


def web_deployment(name: str, replicas: int, readiness_delay: int) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "odoo",
                            "image": "odoo:17.0",
                            "args": ["--max-cron-threads", "0"],
                            "readinessProbe": {
                                "httpGet": {"path": "/web/health", "port": 8069},
                                "initialDelaySeconds": readiness_delay,
                            },
                        }
                    ]
                },
            },
        },
    }


def _ready_replicas(count: int) -> Callable[[KubeObject | None], bool]:
    def holds(deployment: KubeObject | None) -> bool:
        if deployment is None:
            return False
        status = deployment.get("status") or {}
        return bool(
            status.get("readyReplicas") == count
            and status.get("observedGeneration") == deployment["metadata"]["generation"]
        )

    return holds


async def _pods(kube: KubeClient, ns: str, app: str) -> list[KubeObject]:
    listed = await kube.list(PODS, ns, label_selector=f"app={app}")
    return list(listed["items"])


async def test_deployment_pods_become_ready_and_the_deployment_says_so(
    kube: KubeClient, ns: str
) -> None:
    started = time.monotonic()
    await kube.create(DEPLOYMENTS, web_deployment("web", 2, readiness_delay=1), ns)
    await wait_for(kube, DEPLOYMENTS, ObjectKey(ns, "web"), _ready_replicas(2), "2 ready")
    print(f"Deployment create -> 2 pods ready: {time.monotonic() - started:.1f}s (delay 1 s)")
    pods = await _pods(kube, ns, "web")
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE_NAME
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["status"]["phase"] == "Running"
        assert pod_ready(pod)
        odoo = container_status(pod, "odoo")
        assert set(odoo["state"]) == {"running"}
        assert odoo["ready"] is True
        assert odoo["restartCount"] == 0


async def test_scaling_down_stops_pods_and_deleting_the_owner_cascades(
    kube: KubeClient, ns: str
) -> None:
    await kube.create(DEPLOYMENTS, web_deployment("web", 2, readiness_delay=0), ns)
    await wait_for(kube, DEPLOYMENTS, ObjectKey(ns, "web"), _ready_replicas(2), "2 ready")
    await kube.merge_patch(DEPLOYMENTS, "web", {"spec": {"replicas": 1}}, ns)
    await wait_for(kube, DEPLOYMENTS, ObjectKey(ns, "web"), _ready_replicas(1), "1 ready")
    pods = await _pods(kube, ns, "web")
    replica_sets = (await kube.list(REPLICA_SETS, ns))["items"]
    assert len(replica_sets) == 1
    await kube.delete(DEPLOYMENTS, "web", ns)  # background propagation: the GC's job
    rs_key = ObjectKey(ns, replica_sets[0]["metadata"]["name"])
    await wait_for(kube, REPLICA_SETS, rs_key, gone, "collected")
    for pod in pods:
        await wait_for(kube, PODS, ObjectKey(ns, pod["metadata"]["name"]), gone, "collected")


async def test_foreground_deletion_finishes(kube: KubeClient, ns: str) -> None:
    await kube.create(DEPLOYMENTS, web_deployment("web", 1, readiness_delay=0), ns)
    await wait_for(kube, DEPLOYMENTS, ObjectKey(ns, "web"), _ready_replicas(1), "ready")
    pods = await _pods(kube, ns, "web")
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
    await kube.request("DELETE", DEPLOYMENTS.path(ns, "web"), body=options)
    await wait_for(kube, DEPLOYMENTS, ObjectKey(ns, "web"), gone, "deleted in the foreground")
    assert await _pods(kube, ns, "web") == []
    assert pods  # there were pods, and they went before their owner


async def test_owned_objects_of_any_kind_are_collected(kube: KubeClient, ns: str) -> None:
    owner = await kube.create(CONFIG_MAPS, {"metadata": {"name": "owner"}}, ns)
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    await kube.create(
        CONFIG_MAPS, {"metadata": {"name": "child", "ownerReferences": [reference]}}, ns
    )
    await kube.delete(CONFIG_MAPS, "owner", ns)
    await wait_for(kube, CONFIG_MAPS, ObjectKey(ns, "child"), gone, "collected")


async def test_finished_job_expires_after_its_ttl(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    job = job_body("quick", [python_container(cluster, "quick", "print('done')")])
    job["spec"]["ttlSecondsAfterFinished"] = 0
    await kube.create(BATCH_JOBS, job, ns)
    key = ObjectKey(ns, "quick")
    # The TTL controller deletes it at once; seeing Complete first is a race we need not win.
    await wait_for(
        kube, BATCH_JOBS, key, lambda j: j is None or job_condition("Complete")(j), "done"
    )
    await wait_for(kube, BATCH_JOBS, key, gone, "removed after its TTL")
    listed = await kube.list(PODS, ns, label_selector="job-name=quick")
    for pod in listed["items"]:
        await wait_for(kube, PODS, ObjectKey(ns, pod["metadata"]["name"]), gone, "collected")


async def test_namespace_deletion_finishes(cluster: Cluster, kube: KubeClient, ns: str) -> None:
    code = "import time\nwhile True: time.sleep(1)"
    pod = {
        "metadata": {"name": "sleeper"},
        "spec": {"containers": [python_container(cluster, "sleeper", code)]},
    }
    await kube.create(PODS, pod, ns)
    await wait_for(kube, PODS, ObjectKey(ns, "sleeper"), pod_ready, "ready")
    await kube.delete(NAMESPACES, ns)
    await wait_for(kube, NAMESPACES, ObjectKey("", ns), gone, "deleted")


async def test_namespaces_get_a_service_account_with_a_token(kube: KubeClient, ns: str) -> None:
    account = await wait_for(
        kube,
        SERVICE_ACCOUNTS,
        ObjectKey(ns, "default"),
        lambda sa: bool(sa and sa.get("secrets")),
        "given a token",
    )
    assert account is not None
    assert account["secrets"][0]["name"].startswith("default-token-")

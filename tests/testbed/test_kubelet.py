"""The kubelet stand-ins move Deployment and Job status as the real controllers do."""

from __future__ import annotations

from kubernetes_asyncio.client import ApiClient, AppsV1Api, BatchV1Api

from odoo_operator.sandbox.kubelet import finish_job, set_deployment_ready, start_job

POD = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"},
}


async def test_set_deployment_ready(api_client: ApiClient, namespace: str) -> None:
    apps = AppsV1Api(api_client)
    await apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {**POD, "spec": {**POD["spec"], "restartPolicy": "Always"}},
            },
        },
    )
    await set_deployment_ready(api_client, namespace, "web", 2)
    got = await apps.read_namespaced_deployment("web", namespace)
    assert got.status.ready_replicas == 2
    assert got.status.observed_generation == got.metadata.generation


async def test_finish_job_succeeded_and_failed(api_client: ApiClient, namespace: str) -> None:
    batch = BatchV1Api(api_client)
    for name in ("ok", "bad"):
        await batch.create_namespaced_job(
            namespace, {"metadata": {"name": name}, "spec": {"backoffLimit": 0, "template": POD}}
        )
        await start_job(api_client, namespace, name)
    await finish_job(api_client, namespace, "ok", succeeded=True)
    await finish_job(api_client, namespace, "bad", succeeded=False, message="exit 1")
    ok = await batch.read_namespaced_job_status("ok", namespace)
    bad = await batch.read_namespaced_job_status("bad", namespace)
    assert ok.status.succeeded == 1
    assert [(c.type, c.status) for c in ok.status.conditions] == [("Complete", "True")]
    assert ok.status.completion_time is not None
    assert bad.status.failed == 1
    assert [(c.type, c.message) for c in bad.status.conditions] == [("Failed", "exit 1")]
    assert bad.status.active is None


async def test_job_ttl_after_finished_is_kept(api_client: ApiClient, namespace: str) -> None:
    """The TTLAfterFinished gate is on: without it 1.20 silently drops the field."""
    batch = BatchV1Api(api_client)
    await batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "ttl"},
            "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 900, "template": POD},
        },
    )
    got = await batch.read_namespaced_job("ttl", namespace)
    assert got.spec.ttl_seconds_after_finished == 900

"""Watches on the real apiserver: event order, and 410 Gone after an etcd compaction."""

from __future__ import annotations

import asyncio
import json

from kubernetes_asyncio.client import ApiClient, CoreV1Api
from kubernetes_asyncio.config import new_client_from_config
from kubernetes_asyncio.watch import Watch

from odoo_operator.sandbox.controlplane import ControlPlane


async def test_watch_sees_added_modified_deleted_in_order(
    api_client: ApiClient, namespace: str
) -> None:
    core = CoreV1Api(api_client)
    listing = await core.list_namespaced_config_map(namespace, _request_timeout=30)
    seen: list[tuple[str, str]] = []

    async def collect() -> None:
        watch = Watch()
        try:
            async for event in watch.stream(
                core.list_namespaced_config_map,
                namespace,
                resource_version=listing.metadata.resource_version,
                timeout_seconds=30,
                _request_timeout=40,
            ):
                seen.append((event["type"], event["object"].metadata.name))
                if event["type"] == "DELETED":
                    return
        finally:
            await watch.close()

    task = asyncio.create_task(collect())
    body = {"metadata": {"name": "cm"}, "data": {"k": "1"}}
    await core.create_namespaced_config_map(namespace, body, _request_timeout=30)
    await core.patch_namespaced_config_map(
        "cm",
        namespace,
        {"data": {"k": "2"}},
        _request_timeout=30,
        _content_type="application/merge-patch+json",
    )
    await core.delete_namespaced_config_map("cm", namespace, _request_timeout=30)
    await asyncio.wait_for(task, 30)
    assert seen == [("ADDED", "cm"), ("MODIFIED", "cm"), ("DELETED", "cm")]


async def test_watch_from_compacted_version_is_gone(
    uncached_control_plane: ControlPlane,
) -> None:
    api_client = await new_client_from_config(config_file=str(uncached_control_plane.kubeconfig))
    async with api_client:
        await _watch_after_compaction_is_gone(api_client, uncached_control_plane)


async def _watch_after_compaction_is_gone(api_client: ApiClient, plane: ControlPlane) -> None:
    core = CoreV1Api(api_client)
    namespace = "default"
    old = await core.list_namespaced_config_map(namespace, _request_timeout=30)
    old_version = old.metadata.resource_version
    for _ in range(3):
        await core.create_namespaced_config_map(
            namespace, {"metadata": {"generateName": "c"}}, _request_timeout=30
        )
    plane.etcd.compact()
    # The raw watch request (not kubernetes_asyncio's Watch helper, which retries once
    # and then raises) shows exactly what the server answers: 200, then an ERROR event.
    response = await core.list_namespaced_config_map(
        namespace,
        watch=True,
        resource_version=old_version,
        timeout_seconds=5,
        _preload_content=False,
        _request_timeout=30,
    )
    first_event = json.loads(await response.content.readline())
    response.release()
    assert first_event["type"] == "ERROR"
    assert first_event["object"]["code"] == 410
    assert first_event["object"]["reason"] == "Expired"

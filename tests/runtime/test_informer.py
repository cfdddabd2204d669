"""Informers on the real API server: order, cache contents, indexes, bookmarks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.informer import Informer, InformerOptions
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import ObjectKey, thaw
from odoo_operator.runtime.resources import CONFIG_MAPS
from tests.runtime.helpers import RecordingHandler, eventually, sample


def config_map(namespace: str, name: str, **data: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


@pytest.fixture
async def informer(
    kube: KubeClient, namespace: str, metrics: RuntimeMetrics
) -> AsyncIterator[Informer]:
    informer = Informer(kube, CONFIG_MAPS, namespace, metrics=metrics)
    task = asyncio.create_task(informer.run())
    try:
        yield informer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_create_update_delete_arrive_in_order(
    informer: Informer, kube: KubeClient, namespace: str
) -> None:
    handler = RecordingHandler()
    informer.add_handler(handler)
    assert await informer.wait_for_sync(30)
    await kube.create(CONFIG_MAPS, config_map(namespace, "cm", k="1"))
    await kube.merge_patch(CONFIG_MAPS, "cm", {"data": {"k": "2"}}, namespace)
    await kube.merge_patch(CONFIG_MAPS, "cm", {"data": {"k": "3"}}, namespace)
    await eventually(
        lambda: informer.lister.get(ObjectKey(namespace, "cm")) is not None, what="cached"
    )
    cached = informer.lister.get(ObjectKey(namespace, "cm"))
    await kube.delete(CONFIG_MAPS, "cm", namespace)
    await eventually(lambda: ("delete", "cm") in handler.events, what="delete seen")
    assert handler.of("cm") == ["add", "update", "update", "delete"]
    assert informer.lister.get(ObjectKey(namespace, "cm")) is None
    # What was cached: no managedFields, read-only, and kind/apiVersion filled in.
    assert cached is not None
    assert "managedFields" not in cached["metadata"]
    with pytest.raises(TypeError):
        cached["data"]["k"] = "x"  # type: ignore[index]
    assert thaw(cached)["data"]["k"] in {"1", "2", "3"}


async def test_list_fills_the_cache_with_what_exists(
    kube: KubeClient, namespace: str, metrics: RuntimeMetrics
) -> None:
    for number in range(7):
        await kube.create(CONFIG_MAPS, config_map(namespace, f"pre-{number}"))
    # A small page size so the list really paginates (continue tokens).
    informer = Informer(
        kube, CONFIG_MAPS, namespace, options=InformerOptions(page_size=3), metrics=metrics
    )
    task = asyncio.create_task(informer.run())
    try:
        assert await informer.wait_for_sync(30)
        assert sorted(o["metadata"]["name"] for o in informer.lister.list(namespace)) == [
            f"pre-{n}" for n in range(7)
        ]
        assert all(o["kind"] == "ConfigMap" for o in informer.lister.list())
        # A handler added after the sync first gets the cache replayed as adds.
        late = RecordingHandler()
        informer.add_handler(late)
        assert sorted(late.events) == [("add", f"pre-{n}") for n in range(7)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_indexes_and_listers(informer: Informer, kube: KubeClient, namespace: str) -> None:
    informer.add_index("instance", lambda obj: [obj.get("data", {}).get("instance", "")])
    assert await informer.wait_for_sync(30)
    owner = await kube.create(CONFIG_MAPS, config_map(namespace, "owner"))
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    child = config_map(namespace, "child", instance="a")
    child["metadata"] = {**child["metadata"], "ownerReferences": [reference], "labels": {"x": "1"}}  # type: ignore[dict-item]
    await kube.create(CONFIG_MAPS, child)
    await kube.create(CONFIG_MAPS, config_map(namespace, "other", instance="b"))
    await eventually(lambda: len(informer.lister.list(namespace)) == 3, what="3 cached")
    lister = informer.lister
    assert [o["metadata"]["name"] for o in lister.by_index("instance", "a")] == ["child"]
    assert [o["metadata"]["name"] for o in lister.owned_by(owner["metadata"]["uid"])] == ["child"]
    assert [o["metadata"]["name"] for o in lister.list(namespace, labels={"x": "1"})] == ["child"]
    assert lister.list("elsewhere") == []
    # An index follows updates: the old value no longer finds the object.
    await kube.merge_patch(CONFIG_MAPS, "child", {"data": {"instance": "c"}}, namespace)
    await eventually(lambda: lister.by_index("instance", "c") != [], what="re-indexed")
    assert lister.by_index("instance", "a") == []


async def test_watch_asks_for_bookmarks_and_follows_them(
    kube: KubeClient, namespace: str, metrics: RuntimeMetrics
) -> None:
    """A bookmark moves the informer's resume point without an event of its own.

    What kube-apiserver 1.20's watch cache guarantees (`storage/cacher/cacher.go`): a watch
    that allows bookmarks gets one 2 s before its deadline (and about once a minute)
    carrying the newest resourceVersion the cache has seen for the whole kind, all
    namespaces; but the server drops it unless that version is newer than the watch's start,
    and a new watch's start is moved up to the newest event of the kind already cached. So
    only a write of the same kind made *after* the stream opened yields a bookmark; on a
    quiet cluster none ever comes. Hence: prove a stream is open (our own event arrives
    through it), then write a ConfigMap in another namespace every 2 s until a bookmark
    has carried one of those versions in. Only a bookmark can: they are never our events.
    """
    informer = Informer(
        kube,
        CONFIG_MAPS,
        namespace,
        options=InformerOptions(watch_timeout_range=(10, 10)),
        metrics=metrics,
    )
    task = asyncio.create_task(informer.run())
    writer: asyncio.Task[None] | None = None
    try:
        assert await informer.wait_for_sync(30)
        await kube.create(CONFIG_MAPS, config_map(namespace, "own"))
        await eventually(
            lambda: informer.lister.get(ObjectKey(namespace, "own")) is not None, what="own"
        )
        elsewhere = f"moves-the-store-{namespace}"
        first = await kube.create(CONFIG_MAPS, config_map("default", elsewhere))
        first_version = int(first["metadata"]["resourceVersion"])

        async def keep_writing_elsewhere() -> None:
            for number in itertools.count():
                await asyncio.sleep(2)  # pacing a load, not waiting for anything
                patch = {"data": {"n": str(number)}}
                await kube.merge_patch(CONFIG_MAPS, elsewhere, patch, "default")

        writer = asyncio.create_task(keep_writing_elsewhere())
        await eventually(
            lambda: int(informer.resource_version or 0) >= first_version,
            within=60,
            what="a bookmark carrying a version written in another namespace",
        )
        registry, scope = metrics.registry, {"resource": "configmaps", "namespace": namespace}
        assert sample(registry, "informer_bookmarks_total", **scope) >= 1
        closed = {**scope, "reason": "closed"}
        closed_before = sample(registry, "informer_watch_restarts_total", **closed)
        await eventually(
            lambda: sample(registry, "informer_watch_restarts_total", **closed) > closed_before,
            what="stream end + reopen",
        )
        await kube.create(CONFIG_MAPS, config_map(namespace, "after-reopen"))
        await eventually(
            lambda: informer.lister.get(ObjectKey(namespace, "after-reopen")) is not None,
            what="event after the stream was reopened",
        )
        # reopened from the last version, not relisted
        assert sample(registry, "informer_lists_total", **scope) == 1
    finally:
        for running in (writer, task):
            if running is not None:
                running.cancel()
        await asyncio.gather(*(t for t in (writer, task) if t is not None), return_exceptions=True)

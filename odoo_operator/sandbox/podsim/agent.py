"""The node agent: registers the Node, watches pods, runs one `PodWorker` per pod.

Guarantees:
- everything is event-driven: informers (list + watch) on Pods, Secrets, ConfigMaps
  and PersistentVolumeClaims; no polling loop asks the API server what changed;
- pods are handled only once the Secret, ConfigMap and claim caches have synced, so a
  container never waits on an object that exists;
- each pod that is unscheduled (for `default-scheduler`) or bound to this node has
  exactly one worker, from the first event to its deletion;
- a change to a Secret, ConfigMap or claim wakes the workers of its namespace that
  wait for one;
- `/healthz` on the kubelet endpoint answers 200 only after the Node is registered,
  the caches synced and the log endpoint listens;
- on SIGTERM or SIGINT every container is stopped (SIGTERM, SIGKILL after 5 s), the
  pods' volumes are removed (their logs stay), and the process exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from odoo_operator.runtime import KubeObject, ObjectKey
from odoo_operator.runtime.client import connect
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import (
    CONFIG_MAPS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    SECRETS,
    Resource,
)
from odoo_operator.sandbox.podsim import node
from odoo_operator.sandbox.podsim.claims import Claims
from odoo_operator.sandbox.podsim.logserver import create_app, server_context
from odoo_operator.sandbox.podsim.pods import DEFAULT_SCHEDULER, NodeContext, PodWorker
from odoo_operator.sandbox.ports import LOOPBACK

_log = structlog.get_logger(__name__)
SYNC_TIMEOUT = 60.0


@dataclass(frozen=True)
class AgentConfig:
    kubeconfig: Path
    run_dir: Path
    node_name: str
    port: int
    operator_image: str
    tls_cert: Path
    tls_key: Path
    client_ca: Path


class CachedObjects:
    """Secrets, ConfigMaps and claims, read from the informers' caches."""

    def __init__(self, secrets: Informer, config_maps: Informer, claims: Informer) -> None:
        self._secrets = secrets
        self._config_maps = config_maps
        self._claims = claims

    def secret(self, namespace: str, name: str) -> KubeObject | None:
        return self._secrets.store.get(ObjectKey(namespace, name))

    def config_map(self, namespace: str, name: str) -> KubeObject | None:
        return self._config_maps.store.get(ObjectKey(namespace, name))

    def claim(self, namespace: str, name: str) -> KubeObject | None:
        return self._claims.store.get(ObjectKey(namespace, name))


class _NamespaceChanges:
    """Informer handler: any change in a namespace wakes that namespace's pod workers."""

    def __init__(self, agent: NodeAgent) -> None:
        self.agent = agent

    def on_add(self, obj: KubeObject) -> None:
        self.agent.config_changed(str(obj["metadata"].get("namespace") or ""))

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self.on_add(new)

    def on_delete(self, obj: KubeObject) -> None:
        self.on_add(obj)


class NodeAgent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ready = False
        self._node: NodeContext | None = None

    # -- pod informer handler ---------------------------------------------------------

    def _ours(self, pod: KubeObject) -> bool:
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if node_name:
            return bool(node_name == self.config.node_name)
        return (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER

    def on_add(self, pod: KubeObject) -> None:
        uid = str(pod["metadata"]["uid"])
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
        elif self._ours(pod):
            assert self._node is not None
            worker = PodWorker(self._node, pod)
            self.workers[uid] = worker
            task = asyncio.create_task(worker.run(), name=f"pod {worker.namespace}/{worker.name}")
            task.add_done_callback(lambda _: self._forget(uid))
            self._tasks[uid] = task

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self.on_add(new)

    def on_delete(self, pod: KubeObject) -> None:
        worker = self.workers.get(str(pod["metadata"]["uid"]))
        if worker is not None:
            worker.update(None)

    def _forget(self, uid: str) -> None:
        self.workers.pop(uid, None)
        task = self._tasks.pop(uid, None)
        if task is not None and not task.cancelled() and task.exception() is not None:
            _log.error("pod worker failed", exc_info=task.exception())

    def config_changed(self, namespace: str) -> None:
        for worker in self.workers.values():
            if worker.namespace == namespace:
                worker.config_changed()

    def pod(self, namespace: str, name: str) -> PodWorker | None:
        """The worker of the pod of that name that runs here (for the log endpoint)."""
        return next(
            (w for w in self.workers.values() if (w.namespace, w.name) == (namespace, name)),
            None,
        )

    # -- the process --------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        config = self.config
        client = await connect(config.kubeconfig, RuntimeMetrics(process_metrics=False))
        informers: dict[Resource, Informer] = {
            kind: Informer(client, kind)
            for kind in (SECRETS, CONFIG_MAPS, PERSISTENT_VOLUME_CLAIMS, PODS)
        }
        tasks = [asyncio.create_task(i.run(), name=f"informer {k}") for k, i in informers.items()]
        runner = web.AppRunner(
            create_app(self.pod, lambda: self._ready), access_log=None, handle_signals=False
        )
        try:
            await node.register(
                client, node.node_object(config.node_name, config.port, config.run_dir)
            )
            claims_root = config.run_dir / "volumes"
            claims = Claims(client, informers[PERSISTENT_VOLUME_CLAIMS].store, claims_root)
            informers[PERSISTENT_VOLUME_CLAIMS].add_handler(claims)
            tasks.append(asyncio.create_task(claims.run(), name="claims"))
            for kind in (SECRETS, CONFIG_MAPS, PERSISTENT_VOLUME_CLAIMS):
                informers[kind].add_handler(_NamespaceChanges(self))
                if not await informers[kind].wait_for_sync(SYNC_TIMEOUT):
                    raise RuntimeError(f"{kind} not listed within {SYNC_TIMEOUT:.0f}s")
            self._node = NodeContext(
                client=client,
                node_name=config.node_name,
                operator_image=config.operator_image,
                pods_root=config.run_dir / "pods",
                claims_root=claims_root,
                source=CachedObjects(
                    informers[SECRETS], informers[CONFIG_MAPS], informers[PERSISTENT_VOLUME_CLAIMS]
                ),
            )
            informers[PODS].add_handler(self)
            await runner.setup()
            context = server_context(config.tls_cert, config.tls_key, config.client_ca)
            await web.TCPSite(runner, LOOPBACK, config.port, ssl_context=context).start()
            if not await informers[PODS].wait_for_sync(SYNC_TIMEOUT):
                raise RuntimeError(f"pods not listed within {SYNC_TIMEOUT:.0f}s")
            self._ready = True
            _log.info("node agent ready", node=config.node_name, port=config.port)
            await stopping.wait()
            _log.info("stopping: every container gets SIGTERM")
        finally:
            self._ready = False
            workers = list(self._tasks.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await runner.cleanup()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

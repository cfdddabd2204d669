"""The OdooInstance controller on the real control plane and PostgreSQL, in this process.

- `operator_namespace`: a fresh namespace standing for the operator's (clusters Secret,
  pull secrets), so tests never share a clusters Secret;
- `clusters`: the clusters Secret there, with one default cluster `main` pointing at the
  session's PostgreSQL (`write_clusters` rewrites it);
- `operator`: a manager with `controllers.setup` watching only the test's namespace,
  running until the test ends (`Operator`: its manager, settings, and helpers to read
  what a user would read: the instance, its status, its events).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    CoreV1Api,
    CustomObjectsApi,
)

from odoo_operator import controllers
from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.schedule.context import Clock
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.run.flags import defaults
from odoo_operator.runtime.manager import Manager
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.kubelet import finish_job, set_deployment_ready, start_job
from odoo_operator.sandbox.postgres import PostgresServer
from tests.events import Event, list_events
from tests.runtime.helpers import eventually

CLUSTERS_SECRET = "postgres-clusters"
TIMEOUT = 60


def cluster_entry(server: PostgresServer, **overrides: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "adminUser": server.user,
        "adminPassword": server.password,
        "default": True,
        **overrides,
    }


async def write_secret(api: ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    """Create or replace an Opaque Secret."""
    core = CoreV1Api(api)
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    try:
        await core.create_namespaced_secret(namespace, body, _request_timeout=TIMEOUT)
    except Exception:
        await core.replace_namespaced_secret(name, namespace, body, _request_timeout=TIMEOUT)


async def write_clusters(api: ApiClient, namespace: str, clusters: dict[str, Any] | str) -> None:
    text = clusters if isinstance(clusters, str) else yaml.safe_dump(clusters)
    await write_secret(api, namespace, CLUSTERS_SECRET, {"clusters.yaml": text})


@pytest.fixture
async def operator_namespace(api_client: ApiClient, installed_crds: object) -> str:
    """A fresh namespace for the operator's own objects (the CRDs installed first)."""
    name = f"op-{secrets.token_hex(4)}"
    await CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
async def clusters(
    api_client: ApiClient, operator_namespace: str, postgres_server: PostgresServer
) -> dict[str, Any]:
    entries = {"main": cluster_entry(postgres_server)}
    await write_clusters(api_client, operator_namespace, entries)
    return entries


@dataclass
class Operator:
    manager: Manager
    settings: OperatorSettings
    api: ApiClient
    namespace: str

    @property
    def objects(self) -> CustomObjectsApi:
        return CustomObjectsApi(self.api)

    async def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OdooInstance",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        created: dict[str, Any] = await self.objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "odooinstances", body
        )
        return created

    async def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.objects.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "odooinstances", name
        )
        return found

    async def patch(self, name: str, spec: dict[str, Any]) -> None:
        await self.objects.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            "odooinstances",
            name,
            {"spec": spec},
            _content_type="application/merge-patch+json",
        )

    async def phase(self, name: str) -> str | None:
        status = (await self.get(name)).get("status") or {}
        return status.get("phase")

    async def wait_for(
        self, name: str, check: Callable[[dict[str, Any]], bool], what: str, within: float = 60
    ) -> dict[str, Any]:
        """Poll the instance until `check(instance)` holds; return it."""
        latest: dict[str, Any] = {}

        async def probe() -> bool:
            nonlocal latest
            latest = await self.get(name)
            return check(latest)

        deadline = asyncio.get_running_loop().time() + within
        while not await probe():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{what} not reached within {within:.0f}s: {latest.get('status')}"
                )
            await asyncio.sleep(0.1)
        return latest

    async def wait_for_phase(self, name: str, phase: str, within: float = 60) -> dict[str, Any]:
        return await self.wait_for(
            name,
            lambda obj: (obj.get("status") or {}).get("phase") == phase,
            f"phase {phase}",
            within,
        )

    async def events(self, reason: str | None = None) -> list[Event]:
        found = await list_events(self.api, self.namespace)
        return [e for e in found if reason is None or e.reason == reason]

    async def wait_for_event(self, reason: str, within: float = 60) -> Event:
        """The first Event with `reason` (events are sent in the background)."""
        deadline = asyncio.get_running_loop().time() + within
        while not (found := await self.events(reason)):
            assert asyncio.get_running_loop().time() < deadline, f"no {reason} event"
            await asyncio.sleep(0.1)
        return found[0]


async def start_operator(
    control_plane: ControlPlane,
    api: ApiClient,
    namespace: str,
    operator_namespace: str,
    *,
    clock: Clock | None = None,
    **settings_changes: Any,
) -> tuple[Operator, asyncio.Task[None]]:
    """The operator in this process; `settings_changes` override `OperatorSettings` fields;
    `clock`: the schedule controller's time (None: the system's)."""
    options, settings = defaults()
    options = options.model_copy(
        update={
            "kubeconfig": str(control_plane.kubeconfig),
            "leader_elect": False,
            "metrics_bind_address": "0",
            "health_probe_bind_address": "0",
            "watch_namespace": namespace,
        }
    )
    settings = settings.model_copy(
        update={"operator_namespace": operator_namespace, **settings_changes}
    )
    manager = Manager(options)
    await manager.connect()
    controllers.setup(manager, settings, clock)
    task = asyncio.create_task(manager.run(handle_signals=False))
    await eventually(manager.controllers[0].workers_alive, what="controller started")
    return Operator(manager, settings, api, namespace), task


async def stop_operator(operator: Operator, task: asyncio.Task[None]) -> None:
    operator.manager.stop()
    await task
    await operator.manager.close()


@pytest.fixture
async def operator(
    control_plane: ControlPlane,
    api_client: ApiClient,
    namespace: str,
    operator_namespace: str,
    clusters: dict[str, Any],
) -> AsyncIterator[Operator]:
    running, task = await start_operator(control_plane, api_client, namespace, operator_namespace)
    try:
        yield running
    finally:
        await stop_operator(running, task)


async def batch_job_of(operator: Operator, plural: str, job: str, within: float = 60) -> str:
    """The batch Job the job controller started for job resource `job` (its `jobName`)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await operator.objects.get_namespaced_custom_object(
            GROUP, VERSION, operator.namespace, plural, job
        )
        name = (found.get("status") or {}).get("jobName")
        if name:
            return str(name)
        assert asyncio.get_running_loop().time() < deadline, f"{plural}/{job}: no batch Job"
        await asyncio.sleep(0.1)


async def play_job(operator: Operator, plural: str, job: str, *, succeeded: bool = True) -> str:
    """Play the Job controller and the kubelet for the batch Job of `job`: started, then
    finished with `succeeded`. Returns the batch Job's name."""
    name = await batch_job_of(operator, plural, job)
    await start_job(operator.api, operator.namespace, name)
    await finish_job(operator.api, operator.namespace, name, succeeded=succeeded)
    return name


async def play_init_job(operator: Operator, job: str, *, succeeded: bool = True) -> None:
    await play_job(operator, "odooinitjobs", job, succeeded=succeeded)


async def running_instance(operator: Operator, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An instance taken through auto-init to Running (the test plays the Job and kubelet)."""
    await operator.create(name, {"init": {}, **spec})
    await operator.wait_for_phase(name, "Initializing")
    await play_init_job(operator, names.auto_init_job(name))
    await operator.wait_for(
        name,
        lambda obj: (
            (obj.get("status") or {}).get("phase") == "Starting"
            and (obj.get("status") or {}).get("targetReplicas") == obj["spec"].get("replicas", 1)
        ),
        "Starting with web pods wanted",
    )
    replicas = int(spec.get("replicas", 1))
    await wait_for_replicas(operator, names.web(name), replicas)
    await set_deployment_ready(operator.api, operator.namespace, names.web(name), replicas)
    return await operator.wait_for_phase(name, "Running")


async def wait_for_replicas(operator: Operator, deployment: str, replicas: int) -> None:
    apps = AppsV1Api(operator.api)

    async def probe() -> bool:
        found = await apps.read_namespaced_deployment(deployment, operator.namespace)
        return bool(found.spec.replicas == replicas)

    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, f"{deployment} not at {replicas}"
        await asyncio.sleep(0.1)

"""The job controllers on the real control plane, PostgreSQL and (for backups) S3
credentials, in this process; the test plays the Job controller and the kubelet.

- `operator`: `controllers.setup` (instance and job controllers) watching the test's
  namespace, with `--operator-image` set and `--job-history-limit` 10; `operator_with`
  starts one with other settings;
- `Jobs`: create, read and wait for job resources and their batch Jobs as a user would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, BatchV1Api

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.runtime.resources import Resource
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.instance.conftest import (  # noqa: F401 - fixtures used by these tests
    Operator,
    clusters,
    operator_namespace,
    start_operator,
    stop_operator,
)
from tests.instance.test_webhook import receiver  # noqa: F401 - a fixture of these tests
from tests.runtime.helpers import eventually

OPERATOR_IMAGE = "odoo-operator:test"
PLURALS = {
    "OdooInitJob": "odooinitjobs",
    "OdooUpgradeJob": "odooupgradejobs",
    "OdooBackupJob": "odoobackupjobs",
    "OdooRestoreJob": "odoorestorejobs",
}
WITHIN = 60.0

StartOperator = Callable[..., Awaitable[Operator]]


@pytest.fixture
async def operator_with(
    control_plane: ControlPlane,
    api_client: ApiClient,
    namespace: str,
    operator_namespace: str,  # noqa: F811 - the fixture imported above
    clusters: dict[str, Any],  # noqa: F811
) -> AsyncIterator[StartOperator]:
    running: list[tuple[Operator, asyncio.Task[None]]] = []

    async def start(**settings: Any) -> Operator:
        settings.setdefault("operator_image", OPERATOR_IMAGE)
        started = await start_operator(
            control_plane, api_client, namespace, operator_namespace, **settings
        )
        running.append(started)
        return started[0]

    try:
        yield start
    finally:
        for operator, task in running:
            await stop_operator(operator, task)


@pytest.fixture
async def operator(operator_with: StartOperator) -> Operator:
    return await operator_with()


@dataclass
class Jobs:
    operator: Operator

    @property
    def namespace(self) -> str:
        return self.operator.namespace

    async def create(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        created: dict[str, Any] = await self.operator.objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], body
        )
        return created

    async def get(self, kind: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.operator.objects.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name
        )
        return found

    async def names(self, kind: str) -> list[str]:
        found = await self.operator.objects.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind]
        )
        return sorted(item["metadata"]["name"] for item in found["items"])

    async def delete(self, kind: str, name: str) -> None:
        await self.operator.objects.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name
        )

    async def wait(
        self, kind: str, name: str, check: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """Poll the job resource until `check(resource)` holds; return it."""
        deadline = asyncio.get_running_loop().time() + WITHIN
        while not check(latest := await self.get(kind, name)):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{kind} {name}: {what} not reached: {latest.get('status')}")
            await asyncio.sleep(0.1)
        return latest

    async def wait_phase(self, kind: str, name: str, phase: str) -> dict[str, Any]:
        return await self.wait(
            kind, name, lambda job: (job.get("status") or {}).get("phase") == phase, phase
        )

    async def batch_job(self, name: str) -> Any:
        return await BatchV1Api(self.operator.api).read_namespaced_job(name, self.namespace)

    async def batch_jobs(self) -> list[Any]:
        found = await BatchV1Api(self.operator.api).list_namespaced_job(self.namespace)
        return list(found.items)


async def phase_changed(operator: Operator, note: str) -> None:
    """Wait for the PhaseChanged event `note` (e.g. `Upgrading -> Starting`): a phase the
    instance may leave at once (Starting with pods already reported ready) is seen here."""
    deadline = asyncio.get_running_loop().time() + WITHIN
    while True:
        await operator.manager.recorder.flush()
        notes = [event.note for event in await operator.events("PhaseChanged")]
        if note in notes:
            return
        assert asyncio.get_running_loop().time() < deadline, f"no {note!r} in {notes}"
        await asyncio.sleep(0.1)


async def settled(operator: Operator, resource: Resource, key: ObjectKey, phase: str) -> None:
    """Wait until the operator's cache shows the job resource at `key` in `phase` and its
    controller has nothing queued or in flight: it has acted on what it saw."""
    lister = operator.manager.informer(resource).lister
    controller = next(c for c in operator.manager.controllers if c.primary == resource)

    def done() -> bool:
        cached = lister.get(key)
        seen = ((cached or {}).get("status") or {}).get("phase")
        return seen == phase and controller.queue.idle()

    await eventually(done, within=WITHIN, what=f"{resource.kind} {key} settled in {phase}")


@pytest.fixture
def jobs(operator: Operator) -> Jobs:
    return Jobs(operator)

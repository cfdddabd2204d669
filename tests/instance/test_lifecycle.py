"""Phases as SPEC §3 says, driven by what the test reports as the kubelet and Job controller."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import AppsV1Api

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.controllers.instance import names
from odoo_operator.sandbox.kubelet import set_deployment_ready
from tests.instance.conftest import (
    Operator,
    play_init_job,
    running_instance,
    wait_for_replicas,
)
from tests.runtime.helpers import sample


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


async def test_auto_init_then_running_degraded_starting_stopped(operator: Operator) -> None:
    obj = await running_instance(
        operator, "shop", {"replicas": 2, "ingress": {"hosts": ["a.example.com"]}}
    )
    status = obj["status"]
    assert status["ready"] is True
    assert status["dbInitialized"] is True
    assert status["url"] == "https://a.example.com"
    assert status["selector"] == "app=shop"
    assert (status["readyReplicas"], status["targetReplicas"]) == (2, 2)
    assert _condition(obj, "Ready")["status"] == "True"
    assert _condition(obj, "Progressing")["status"] == "False"
    init = await operator.objects.get_namespaced_custom_object(
        GROUP, VERSION, operator.namespace, "odooinitjobs", "shop-auto-init"
    )
    assert init["status"]["phase"] == "Completed"  # finished by the Initializing -> Starting row
    ready_since = _condition(obj, "Ready")["lastTransitionTime"]

    await set_deployment_ready(operator.api, operator.namespace, "shop", 1)
    obj = await operator.wait_for_phase("shop", "Degraded")
    assert obj["status"]["message"] == "1/2 web pods ready"
    await set_deployment_ready(operator.api, operator.namespace, "shop", 0)
    await operator.wait_for_phase("shop", "Starting")
    await set_deployment_ready(operator.api, operator.namespace, "shop", 2)
    obj = await operator.wait_for_phase("shop", "Running")
    assert _condition(obj, "Ready")["lastTransitionTime"] >= ready_since

    await operator.patch("shop", {"replicas": 0})
    obj = await operator.wait_for_phase("shop", "Stopped")
    await wait_for_replicas(operator, "shop", 0)
    await wait_for_replicas(operator, "shop-cron", 0)
    assert obj["status"]["ready"] is False
    assert obj["status"]["targetReplicas"] == 0
    await set_deployment_ready(operator.api, operator.namespace, "shop", 0)  # pods gone

    await operator.patch("shop", {"replicas": 1})
    await operator.wait_for_phase("shop", "Starting")
    await wait_for_replicas(operator, "shop", 1)
    await wait_for_replicas(operator, "shop-cron", 1)
    await set_deployment_ready(operator.api, operator.namespace, "shop", 1)
    await operator.wait_for_phase("shop", "Running")

    registry = operator.manager.metrics.registry
    assert sample(registry, "odoo_operator_instances", phase="Running") == 1
    assert sample(registry, "odoo_operator_instances", phase="Stopped") == 0
    await operator.manager.recorder.flush()
    changes = [e.note for e in await operator.events("PhaseChanged")]
    assert "Provisioning -> Uninitialized" in changes
    assert "Initializing -> Starting" in changes
    assert "Degraded -> Starting" in changes


async def test_a_failed_init_is_init_failed_and_a_new_init_job_retries(operator: Operator) -> None:
    await operator.create("shop", {"init": {"modules": ["base", "sale"]}})
    await operator.wait_for_phase("shop", "Initializing")
    await play_init_job(operator, "shop-auto-init", succeeded=False)
    obj = await operator.wait_for_phase("shop", "InitFailed")
    assert "create a new OdooInitJob" in obj["status"]["message"]
    apps = AppsV1Api(operator.api)
    web = await apps.read_namespaced_deployment("shop", operator.namespace)
    assert web.spec.replicas == 0  # no Odoo pod on a database that is not initialized
    await operator.objects.create_namespaced_custom_object(
        GROUP,
        VERSION,
        operator.namespace,
        "odooinitjobs",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OdooInitJob",
            "metadata": {"name": "again"},
            "spec": {"odooInstanceRef": {"name": "shop"}},
        },
    )
    await operator.wait_for_phase("shop", "Initializing")
    await play_init_job(operator, "again")
    await operator.wait_for_phase("shop", "Starting")


async def test_without_init_block_the_user_creates_the_init_job(operator: Operator) -> None:
    """The seed README's flow: no auto-init; Uninitialized until an OdooInitJob exists."""
    await operator.create("shop", {})
    obj = await operator.wait_for_phase("shop", "Uninitialized")
    assert "create an OdooInitJob" in obj["status"]["message"]
    init_jobs = await operator.objects.list_namespaced_custom_object(
        GROUP, VERSION, operator.namespace, "odooinitjobs"
    )
    assert init_jobs["items"] == []
    assert names.auto_init_job("shop") == "shop-auto-init"

"""The status of a job resource, and the webhook sent when it ends.

Every writer of a job resource's status (the job controllers while it waits and runs,
the instance reconciler when its batch Job has finished) builds it here, so the shape is
one: `phase`, `jobName`, `startTime`, `completionTime`, `message`, and one condition
`Completed` (True once Completed, False once Failed, Unknown before) whose reason is the
phase and whose `lastTransitionTime` moves only when its status changes.

Guarantees:
- `write` merge-patches the status subresource with only the fields given, so what
  another writer recorded (e.g. `jobName`) stays;
- `ended` sends the job's `spec.webhook` (if any) through the shared `Notifier`:
  `{name, namespace, kind, phase, message, jobName, timestamp}`; it never blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from odoo_operator.api.base import JobPhase, WebhookSpec
from odoo_operator.controllers.instance.status import now
from odoo_operator.controllers.notify import Notification, Notifier
from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.objects import KubeObject
from odoo_operator.runtime.resources import Resource

CONDITION = "Completed"
TERMINAL = frozenset({JobPhase.COMPLETED.value, JobPhase.FAILED.value})
_CONDITION_STATUS = {JobPhase.COMPLETED: "True", JobPhase.FAILED: "False"}


def phase_of(job: KubeObject) -> str | None:
    phase = (job.get("status") or {}).get("phase")
    return str(phase) if phase else None


def is_terminal(job: KubeObject) -> bool:
    return phase_of(job) in TERMINAL


def condition(
    phase: JobPhase, message: str, previous: Mapping[str, Any] | None, moment: str
) -> dict[str, Any]:
    """The `Completed` condition for `phase`; `previous` is the job's current status."""
    status = _CONDITION_STATUS.get(phase, "Unknown")
    since = moment
    for old in (previous or {}).get("conditions") or ():
        if old.get("type") == CONDITION and old.get("status") == status:
            since = old.get("lastTransitionTime") or moment
    return {
        "type": CONDITION,
        "status": status,
        "reason": phase.value,
        "message": message,
        "lastTransitionTime": since,
    }


def fields(job: KubeObject, phase: JobPhase, message: str, **extra: str | None) -> dict[str, Any]:
    """`phase`, `message`, the condition, `completionTime` when terminal, and `extra`."""
    moment = now()
    status: dict[str, Any] = {
        "phase": phase.value,
        "message": message,
        "conditions": [condition(phase, message, job.get("status"), moment)],
    }
    if phase.value in TERMINAL:
        status["completionTime"] = moment
    status.update({key: value for key, value in extra.items() if value is not None})
    return status


async def write(
    client: KubeClient,
    resource: Resource,
    job: KubeObject,
    status: Mapping[str, Any],
    *,
    guarded: bool = False,
) -> dict[str, Any]:
    """Merge-patch `status`; `guarded`: only onto the version of `job` (else 409)."""
    metadata = job["metadata"]
    patch: dict[str, Any] = {"status": dict(status)}
    if guarded:
        patch["metadata"] = {"resourceVersion": metadata["resourceVersion"]}
    return await client.merge_patch(
        resource, metadata["name"], patch, metadata["namespace"], subresource="status"
    )


def ended(
    notifier: Notifier, resource: Resource, job: KubeObject, status: Mapping[str, Any]
) -> None:
    """Send the job's webhook, if it has one, for the terminal `status` just written."""
    webhook = (job.get("spec") or {}).get("webhook")
    if not webhook:
        return
    metadata = job["metadata"]
    payload = {
        "name": metadata["name"],
        "namespace": metadata["namespace"],
        "kind": resource.kind,
        "phase": status["phase"],
        "message": status.get("message", ""),
        "jobName": status.get("jobName") or (job.get("status") or {}).get("jobName"),
        "timestamp": status.get("completionTime") or now(),
    }
    notifier.notify(
        Notification(WebhookSpec.model_validate(webhook), metadata["namespace"], payload)
    )

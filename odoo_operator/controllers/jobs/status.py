"""The status of a job resource, and the webhook sent when it ends.

Every writer of a job resource's status (the job controllers while it waits and runs,
the instance reconciler when its batch Job has finished) builds it here, so the shape is
one: `phase`, `jobName`, `startTime`, `completionTime`, `message`, and the condition
`Completed` (True once Completed, False once Failed, Unknown before) whose reason is the
phase. An upgrade that backs up first also carries `BackedUp` and `RolledBack`
(`controllers.jobs.backup_first`). A condition's `lastTransitionTime` moves only when
its status changes, and writing one condition keeps the others.

Guarantees:
- `write` merge-patches the status subresource with only the fields given, so what
  another writer recorded (e.g. `jobName`) stays, and only onto the version the writer
  decided from: a writer whose cache lags the API server gets a 409 and decides again
  from a fresher view, and never writes e.g. Running over Completed;
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
BACKED_UP = "BackedUp"  # an upgrade's backup before it ran: True, False, Unknown (pending)
ROLLED_BACK = "RolledBack"  # an upgrade that failed: its backup restored (True) or not
TERMINAL = frozenset({JobPhase.COMPLETED.value, JobPhase.FAILED.value})
_CONDITION_STATUS = {JobPhase.COMPLETED: "True", JobPhase.FAILED: "False"}


def phase_of(job: KubeObject) -> str | None:
    phase = (job.get("status") or {}).get("phase")
    return str(phase) if phase else None


def is_terminal(job: KubeObject) -> bool:
    return phase_of(job) in TERMINAL


def find_condition(job: KubeObject, type_: str) -> Mapping[str, Any] | None:
    for found in (job.get("status") or {}).get("conditions") or ():
        if found.get("type") == type_:
            return dict(found)
    return None


def typed_condition(
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    previous: Mapping[str, Any] | None,
    moment: str,
) -> dict[str, Any]:
    """Condition `type_`; `previous` is the job's current status (for lastTransitionTime)."""
    since = moment
    for old in (previous or {}).get("conditions") or ():
        if old.get("type") == type_ and old.get("status") == status:
            since = old.get("lastTransitionTime") or moment
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def condition(
    phase: JobPhase, message: str, previous: Mapping[str, Any] | None, moment: str
) -> dict[str, Any]:
    """The `Completed` condition for `phase`; `previous` is the job's current status."""
    status = _CONDITION_STATUS.get(phase, "Unknown")
    return typed_condition(
        CONDITION, status, phase.value, message, previous=previous, moment=moment
    )


def merged_conditions(job: KubeObject, *written: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's conditions with `written` replacing those of the same type (a merge patch
    replaces the whole list, so every writer sends the others back)."""
    types = {found["type"] for found in written}
    kept = [
        dict(found)
        for found in (job.get("status") or {}).get("conditions") or ()
        if found.get("type") not in types
    ]
    return [*kept, *written]


def fields(
    job: KubeObject,
    phase: JobPhase,
    message: str,
    *,
    conditions: tuple[dict[str, Any], ...] = (),
    **extra: str | None,
) -> dict[str, Any]:
    """`phase`, `message`, the `Completed` condition (plus `conditions`, the job's other
    ones kept), `completionTime` when terminal, and `extra`."""
    moment = now()
    completed = condition(phase, message, job.get("status"), moment)
    status: dict[str, Any] = {
        "phase": phase.value,
        "message": message,
        "conditions": merged_conditions(job, completed, *conditions),
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
) -> dict[str, Any]:
    """Merge-patch `status` onto the version of `job` (409 if there is a newer one)."""
    metadata = job["metadata"]
    patch = {"status": dict(status), "metadata": {"resourceVersion": metadata["resourceVersion"]}}
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

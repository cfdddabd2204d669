"""The status of an OdooBackupSchedule, built from the previous one and what a reconcile
found.

Guarantees:
- the controller owns the whole status and writes it with `Applier.apply_status`, which
  sends nothing when it is equal to the cached one: a reconcile that found nothing new
  writes nothing;
- times are RFC 3339 UTC with seconds, as the server stores them;
- one condition, `Ready`: True (reason `Scheduled`, the next tick in the message),
  False with reason `Suspended` or `Invalid` (the message names the field), or True
  with reason `Degraded` when the last step that runs in the operator (retention, the
  verification Job) could not run, the message saying why; `lastTransitionTime` moves
  only when its status changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

READY = "Ready"


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready(
    holds: bool, reason: str, message: str, previous: Mapping[str, Any], moment: dt.datetime
) -> dict[str, Any]:
    status = "True" if holds else "False"
    since = stamp(moment)
    for old in previous.get("conditions") or ():
        if old.get("type") == READY and old.get("status") == status:
            since = old.get("lastTransitionTime") or since
    return {
        "type": READY,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def body(schedule: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    metadata = schedule["metadata"]
    return {
        "apiVersion": schedule["apiVersion"],
        "kind": schedule["kind"],
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "status": dict(status),
    }

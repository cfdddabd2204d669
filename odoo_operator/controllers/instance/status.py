"""The status of an OdooInstance, as a pure function of what the reconcile saw and decided.

Guarantees:
- `ready` is True exactly in Running; `Ready` is True in Running, `Progressing` in the
  phases of `phase.PROGRESSING`; both conditions have `reason` = the phase, the status
  message, and the generation they were computed from;
- a condition's `lastTransitionTime` is the previous one's whenever its `status` did not
  change, so it says when the status moved, not when it was last computed: a status
  computed twice from the same facts is equal, and the applier writes nothing;
- times are RFC 3339 UTC with seconds (metav1.Time, as the server stores them);
- `lastBackup` is the time of the backup that succeeded in this reconcile, else kept
  as it was;
- the condition `BackupVerified` is not the instance controller's: the schedule
  controller writes it (`schedule.verification`); the status here carries it over from
  the previous one as it is, so the instance controller's writes keep it. (Server-side
  apply could give it its own owner if conditions were merged item by item, but the
  API server this project tests on treats the list as one value.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odoo_operator.controllers.instance import names
from odoo_operator.controllers.instance.phase import PROGRESSING, Phase

BACKUP_VERIFIED = "BackupVerified"


@dataclass(frozen=True)
class Observed:
    """What the status is computed from."""

    instance: str  # the instance's name
    phase: Phase
    generation: int
    ready_replicas: int
    target_replicas: int
    db_initialized: bool
    url: str | None
    message: str | None
    last_backup: str | None = None  # set when a backup succeeded in this reconcile


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    kind: str,
    holds: bool,
    observed: Observed,
    previous: Mapping[str, Any] | None,
    moment: str,
) -> dict[str, Any]:
    status = "True" if holds else "False"
    since = moment
    if previous is not None and previous.get("status") == status:
        since = previous.get("lastTransitionTime") or moment
    return {
        "type": kind,
        "status": status,
        "reason": observed.phase.value,
        "message": observed.message or "",
        "lastTransitionTime": since,
        "observedGeneration": observed.generation,
    }


def desired_status(
    observed: Observed, previous: Mapping[str, Any] | None, moment: str | None = None
) -> dict[str, Any]:
    """The whole status to apply, given the cached one (`previous`, may be None)."""
    previous = previous or {}
    moment = moment or now()
    conditions = {c.get("type"): c for c in previous.get("conditions") or ()}
    status: dict[str, Any] = {
        "phase": observed.phase.value,
        "ready": observed.phase is Phase.RUNNING,
        "readyReplicas": observed.ready_replicas,
        "targetReplicas": observed.target_replicas,
        "dbInitialized": observed.db_initialized,
        "selector": f"{names.APP_LABEL}={names.web(observed.instance)}",
        "observedGeneration": observed.generation,
        "conditions": [
            _condition(
                "Ready", observed.phase is Phase.RUNNING, observed, conditions.get("Ready"), moment
            ),
            _condition(
                "Progressing",
                observed.phase in PROGRESSING,
                observed,
                conditions.get("Progressing"),
                moment,
            ),
        ],
    }
    if BACKUP_VERIFIED in conditions:
        status["conditions"].append(dict(conditions[BACKUP_VERIFIED]))
    if observed.url:
        status["url"] = observed.url
    if observed.message:
        status["message"] = observed.message
    last_backup = observed.last_backup or previous.get("lastBackup")
    if last_backup:
        status["lastBackup"] = last_backup
    return status

"""Phases of an OdooInstance (SPEC §3) and which of them count as progressing."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PROVISIONING = "Provisioning"
    UNINITIALIZED = "Uninitialized"
    INITIALIZING = "Initializing"
    INIT_FAILED = "InitFailed"
    STARTING = "Starting"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    STOPPED = "Stopped"
    UPGRADING = "Upgrading"
    RESTORING = "Restoring"
    BACKING_UP = "BackingUp"
    ERROR = "Error"


# `Progressing=True` in these phases; `Ready=True` only in Running.
PROGRESSING = frozenset(
    {
        Phase.PROVISIONING,
        Phase.INITIALIZING,
        Phase.STARTING,
        Phase.UPGRADING,
        Phase.RESTORING,
        Phase.BACKING_UP,
    }
)

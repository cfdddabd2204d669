"""Phases of an OdooInstance (SPEC §3, the API's `InstancePhase`) and which progress.

The state table and the status writer use `Phase`; it is the API enum itself, so the
phases the table moves between are exactly those the CRD accepts.
"""

from __future__ import annotations

from odoo_operator.api.instance import InstancePhase as Phase

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

__all__ = ["PROGRESSING", "Phase"]

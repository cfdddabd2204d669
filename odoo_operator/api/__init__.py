"""The `bemade.org/v1alpha1` API: one pydantic model per kind, spec and status.

Other code imports the kinds from here; `KINDS_BY_PLURAL` maps a resource plural (as in
URLs and informers) to its model.
"""

from __future__ import annotations

from odoo_operator.api.backup_schedule import OdooBackupSchedule
from odoo_operator.api.base import API_VERSION, GROUP, VERSION, Condition, CustomResource, JobPhase
from odoo_operator.api.instance import InstancePhase, OdooInstance
from odoo_operator.api.job_resources import (
    JobStatus,
    OdooBackupJob,
    OdooInitJob,
    OdooRestoreJob,
    OdooUpgradeJob,
)

KINDS: tuple[type[CustomResource], ...] = (
    OdooInstance,
    OdooInitJob,
    OdooUpgradeJob,
    OdooBackupJob,
    OdooRestoreJob,
    OdooBackupSchedule,
)
KINDS_BY_PLURAL: dict[str, type[CustomResource]] = {kind.PLURAL: kind for kind in KINDS}

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "KINDS_BY_PLURAL",
    "VERSION",
    "Condition",
    "CustomResource",
    "InstancePhase",
    "JobPhase",
    "JobStatus",
    "OdooBackupJob",
    "OdooBackupSchedule",
    "OdooInitJob",
    "OdooInstance",
    "OdooRestoreJob",
    "OdooUpgradeJob",
]

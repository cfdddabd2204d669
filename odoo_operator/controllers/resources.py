"""The runtime `Resource` (REST collection) of each of our kinds, derived from the API models.

Group and version come from `api.base`, plural and kind from each model class: nothing
here is typed by hand, so a kind renamed in the API is renamed everywhere. Controllers
watch, list and apply our kinds through these.
"""

from __future__ import annotations

from odoo_operator.api.backup_schedule import OdooBackupSchedule
from odoo_operator.api.base import GROUP, VERSION, CustomResource
from odoo_operator.api.instance import OdooInstance
from odoo_operator.api.job_resources import (
    OdooBackupJob,
    OdooInitJob,
    OdooRestoreJob,
    OdooUpgradeJob,
)
from odoo_operator.runtime.resources import Resource


def resource_of(model: type[CustomResource]) -> Resource:
    """The namespaced REST collection of `model`'s kind, e.g. `odooinstances.bemade.org`."""
    return Resource(GROUP, VERSION, model.PLURAL, model.KIND)


ODOO_INSTANCES = resource_of(OdooInstance)
ODOO_INIT_JOBS = resource_of(OdooInitJob)
ODOO_UPGRADE_JOBS = resource_of(OdooUpgradeJob)
ODOO_BACKUP_JOBS = resource_of(OdooBackupJob)
ODOO_RESTORE_JOBS = resource_of(OdooRestoreJob)
ODOO_BACKUP_SCHEDULES = resource_of(OdooBackupSchedule)

# The four job resources (not batch Jobs: those are `runtime.resources.BATCH_JOBS`).
JOB_RESOURCES = (ODOO_INIT_JOBS, ODOO_UPGRADE_JOBS, ODOO_BACKUP_JOBS, ODOO_RESTORE_JOBS)

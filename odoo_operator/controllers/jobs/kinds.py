"""The four job kinds as data: what each needs and when its batch Job may run.

One `JobKind` per kind; the job controller (`reconciler`) is the same code for all four
and reads everything kind-specific from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from odoo_operator.api.job_resources import (
    OdooBackupJob,
    OdooInitJob,
    OdooRestoreJob,
    OdooUpgradeJob,
    RestoreSourceType,
    S3Location,
)
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.jobs import backup, init, restore, upgrade
from odoo_operator.controllers.jobs.batch import Target
from odoo_operator.controllers.resources import (
    ODOO_BACKUP_JOBS,
    ODOO_INIT_JOBS,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)
from odoo_operator.runtime.resources import Resource

# The specs are the kind models' own (`OdooInitJobSpec`, ...); typed loosely here so
# that one table holds all four.
Spec = Any


@dataclass(frozen=True)
class JobKind:
    word: str  # the slot name (`instance.jobs.KINDS`), also in batch Job names
    resource: Resource
    model: type[OdooInitJob | OdooUpgradeJob | OdooBackupJob | OdooRestoreJob]
    phase: Phase  # the instance phase in which its batch Job may run
    why_not: Callable[[Spec, bool], str | None]  # (spec, db initialized) -> cannot apply
    build: Callable[[Spec, Target], dict[str, Any]]
    runs_runner: bool = False  # the operator image: needs the cluster and credentials
    s3: Callable[[Spec], tuple[str, S3Location] | None] = lambda spec: None
    master_password: Callable[[Spec], str | None] = lambda spec: None


def _backup_s3(spec: Spec) -> tuple[str, S3Location]:
    return "spec.destination", spec.destination


def _restore_s3(spec: Spec) -> tuple[str, S3Location] | None:
    if spec.source.type is RestoreSourceType.S3 and spec.source.s3 is not None:
        return "spec.source.s3", spec.source.s3
    return None


def _restore_password(spec: Spec) -> str | None:
    if spec.source.type is RestoreSourceType.ODOO and spec.source.odoo is not None:
        return spec.source.odoo.master_password or None
    return None


KINDS: tuple[JobKind, ...] = (
    JobKind("init", ODOO_INIT_JOBS, OdooInitJob, Phase.INITIALIZING, init.why_not, init.build),
    JobKind(
        "upgrade", ODOO_UPGRADE_JOBS, OdooUpgradeJob, Phase.UPGRADING, upgrade.why_not,
        upgrade.build,
    ),
    JobKind(
        "backup", ODOO_BACKUP_JOBS, OdooBackupJob, Phase.BACKING_UP, backup.why_not,
        backup.build, runs_runner=True, s3=_backup_s3,
    ),
    JobKind(
        "restore", ODOO_RESTORE_JOBS, OdooRestoreJob, Phase.RESTORING, restore.why_not,
        restore.build, runs_runner=True, s3=_restore_s3, master_password=_restore_password,
    ),
)  # fmt: skip

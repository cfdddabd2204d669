"""OdooBackupSchedule: back an OdooInstance up on a cron schedule, keep a bounded history.

Each tick of `spec.schedule` (in `spec.timeZone`, UTC when unset) makes one OdooBackupJob
whose object key is `<prefix>/<namespace>/<instance>/<UTC timestamp>.<ext>`
(`odoo_operator.backups.keys`); after a successful backup, objects under that prefix
that `spec.retention` does not keep are deleted (`odoo_operator.backups.retention`), and
with `spec.verify` the new backup is restored into a scratch database to prove it loads.
Field names are SPEC §2's. Cross-field and format rules (a 5-field cron expression, an
IANA time zone, a retention that keeps something) are the webhook's
(`odoo_operator.webhook.rules`), so that the model never refuses an object the server
holds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from odoo_operator.api.base import CONDITIONS_LIST, ApiModel, Condition, CustomResource
from odoo_operator.api.job_resources import (
    BackupDestination,
    BackupFormat,
    OdooInstanceRef,
)


class ConcurrencyPolicy(StrEnum):
    """What a tick does while the previous backup still runs (as a Kubernetes CronJob)."""

    FORBID = "Forbid"
    ALLOW = "Allow"
    REPLACE = "Replace"


class VerificationResult(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"


class Retention(ApiModel):
    """Grandfather-father-son: which backups survive (docs/backups.md states the rules)."""

    keep_last: int = Field(default=0, ge=0, description="Keep the N newest backups.")
    keep_daily: int = Field(
        default=0, ge=0, description="Keep the newest backup of each of the N latest UTC days."
    )
    keep_weekly: int = Field(
        default=0,
        ge=0,
        description="Keep the newest backup of each of the N latest ISO weeks (UTC).",
    )
    keep_monthly: int = Field(
        default=0,
        ge=0,
        description="Keep the newest backup of each of the N latest calendar months (UTC).",
    )


class OdooBackupScheduleSpec(ApiModel):
    """When to back up, where to, and how many backups to keep."""

    odoo_instance_ref: OdooInstanceRef = Field(description="The OdooInstance to back up.")
    schedule: str = Field(
        description="Cron expression with 5 fields: minute hour day-of-month month "
        "day-of-week, e.g. '30 2 * * *'.",
        min_length=1,
    )
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone of the schedule, e.g. America/Montreal (default: UTC).",
    )
    destination: BackupDestination = Field(description="Where the backups go.")
    format: BackupFormat = Field(
        default=BackupFormat.ZIP, description="zip (Odoo's layout), sql or dump (pg_dump -Fc)."
    )
    with_filestore: bool = Field(default=True, description="Include the filestore (zip only).")
    retention: Retention | None = Field(
        default=None, description="Which backups to keep; unset: every backup is kept."
    )
    verify: bool = Field(
        default=False,
        description="Restore each new backup into a scratch database to prove it loads.",
    )
    suspend: bool = Field(default=False, description="Make no new backups while true.")
    concurrency_policy: ConcurrencyPolicy = Field(
        default=ConcurrencyPolicy.FORBID,
        description="Forbid: skip a tick while a backup runs; Allow: run both; "
        "Replace: cancel the running one.",
    )


class BackupRecord(ApiModel):
    """One backup object."""

    key: str = Field(description="Object key in the destination bucket.")
    time: datetime = Field(description="The backup's own UTC timestamp (from its key).")


class VerificationRecord(ApiModel):
    """The outcome of restoring one backup into a scratch database."""

    key: str = Field(description="Object key of the verified backup.")
    time: datetime = Field(description="When the verification finished.")
    result: VerificationResult = Field(description="Passed or Failed.")
    message: str | None = Field(default=None, description="What failed, or what was checked.")


class OdooBackupScheduleStatus(ApiModel):
    """What the operator last observed about the schedule."""

    last_schedule_time: datetime | None = Field(
        default=None, description="The tick of the last OdooBackupJob made."
    )
    last_skipped_time: datetime | None = Field(
        default=None,
        description="The last tick skipped because a backup still ran (concurrencyPolicy Forbid).",
    )
    last_successful_backup: BackupRecord | None = Field(
        default=None, description="The newest backup that completed."
    )
    last_verified: VerificationRecord | None = Field(
        default=None, description="The newest verification outcome."
    )
    backups: int | None = Field(
        default=None, description="How many backups the schedule keeps under its prefix."
    )
    pruned_after: str | None = Field(
        default=None,
        description="Key of the backup after which retention last ran (once per backup).",
    )
    last_passed_verification: datetime | None = Field(
        default=None, description="When a verification last passed (the metric's value)."
    )
    conditions: tuple[Condition, ...] = Field(
        default=(), description="Standard conditions.", json_schema_extra=CONDITIONS_LIST
    )


class OdooBackupSchedule(CustomResource):
    """Backs an OdooInstance up on a cron schedule, with retention and verification."""

    KIND: ClassVar[str] = "OdooBackupSchedule"
    PLURAL: ClassVar[str] = "odoobackupschedules"

    kind: Literal["OdooBackupSchedule"] = Field(
        default="OdooBackupSchedule", description="OdooBackupSchedule"
    )
    spec: OdooBackupScheduleSpec = Field(description="Desired state.")
    status: OdooBackupScheduleStatus = Field(
        default_factory=OdooBackupScheduleStatus, description="Observed state."
    )

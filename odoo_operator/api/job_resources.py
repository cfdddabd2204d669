"""The four job resources: OdooInitJob, OdooUpgradeJob, OdooBackupJob, OdooRestoreJob.

Each targets one OdooInstance (`spec.odooInstanceRef`), may notify a webhook, and reports
`status.phase` Pending -> Running -> Completed | Failed. Field names and defaults are SPEC §2's.
Cross-field rules (e.g. `source.type: s3` needs `source.s3`) are not enforced here: the
controller marks such a resource Failed with a message, and the webhook rejects it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from odoo_operator.api.base import (
    CONDITIONS_LIST,
    ApiModel,
    Condition,
    CustomResource,
    JobPhase,
    WebhookSpec,
)


class BackupFormat(StrEnum):
    ZIP = "zip"
    SQL = "sql"
    DUMP = "dump"


class RestoreSourceType(StrEnum):
    S3 = "s3"
    ODOO = "odoo"


class OdooInstanceRef(ApiModel):
    """The OdooInstance a job acts on."""

    name: str = Field(description="Name of the OdooInstance.", min_length=1)
    namespace: str | None = Field(
        default=None, description="Its namespace (default: the job's namespace)."
    )


class SecretRef(ApiModel):
    """A Secret with keys accessKey and secretKey."""

    name: str = Field(description="Name of the Secret.", min_length=1)
    namespace: str | None = Field(
        default=None, description="Its namespace (default: the job's namespace)."
    )


class S3Location(ApiModel):
    """An object in an S3-compatible store."""

    bucket: str = Field(description="Bucket name.", min_length=1)
    object_key: str = Field(description="Key of the object in the bucket.", min_length=1)
    endpoint: str = Field(description="S3 endpoint URL, e.g. https://s3.example.com.")
    region: str | None = Field(default=None, description="Region, when the store needs one.")
    insecure: bool = Field(default=False, description="Skip TLS certificate verification.")
    s3_credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with the access key (keys accessKey, secretKey)."
    )


class BackupDestination(ApiModel):
    """An S3 bucket and key prefix under which the operator names backups itself."""

    bucket: str = Field(description="Bucket name.", min_length=1)
    prefix: str = Field(
        default="",
        description="Keys start with <prefix>/<namespace>/<instance>/; "
        "empty: they start at <namespace>.",
    )
    endpoint: str = Field(description="S3 endpoint URL, e.g. https://s3.example.com.")
    region: str | None = Field(default=None, description="Region, when the store needs one.")
    insecure: bool = Field(default=False, description="Skip TLS certificate verification.")
    s3_credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with the access key (keys accessKey, secretKey)."
    )


class OdooSource(ApiModel):
    """A running Odoo whose database manager produces the backup."""

    url: str = Field(description="Base URL of the source Odoo.", pattern=r"^https?://")
    source_database: str | None = Field(default=None, description="Database to back up there.")
    master_password: str | None = Field(
        default=None, description="Master password of the source Odoo."
    )


class RestoreSource(ApiModel):
    """Where the backup to restore comes from."""

    type: RestoreSourceType = Field(description="s3 or odoo.")
    s3: S3Location | None = Field(default=None, description="The object, for type s3.")
    odoo: OdooSource | None = Field(default=None, description="The source Odoo, for type odoo.")


class JobStatus(ApiModel):
    """What the operator last observed about a job resource."""

    phase: JobPhase | None = Field(
        default=None, description="Pending, Running, Completed or Failed."
    )
    job_name: str | None = Field(default=None, description="Name of the batch Job that runs it.")
    start_time: datetime | None = Field(default=None, description="When the batch Job started.")
    completion_time: datetime | None = Field(default=None, description="When it finished.")
    message: str | None = Field(default=None, description="Outcome, or why it cannot run.")
    conditions: tuple[Condition, ...] = Field(
        default=(), description="Standard conditions.", json_schema_extra=CONDITIONS_LIST
    )


class JobSpec(ApiModel):
    """Fields every job resource has."""

    odoo_instance_ref: OdooInstanceRef = Field(description="The target OdooInstance.")
    webhook: WebhookSpec | None = Field(
        default=None, description="Notification sent when the job finishes."
    )


class OdooInitJobSpec(JobSpec):
    """Initialise the database: odoo -i <modules> --stop-after-init."""

    modules: tuple[str, ...] = Field(
        default=("base",), description="Modules to install.", min_length=1
    )
    demo: bool = Field(default=False, description="Load demo data.")


class OdooUpgradeJobSpec(JobSpec):
    """Upgrade modules: odoo -u <modules> [-i <modulesInstall>]; neither means -u all."""

    modules: tuple[str, ...] = Field(default_factory=tuple, description="Modules to upgrade (-u).")
    modules_install: tuple[str, ...] = Field(
        default_factory=tuple, description="Modules to install (-i)."
    )
    scheduled_time: datetime | None = Field(
        default=None, description="RFC 3339 time; the upgrade does not start before it."
    )
    backup_first: bool | None = Field(
        default=None,
        description="Back up (zip with filestore) before upgrading, and restore that backup "
        "if the upgrade fails. Default: true when spec.backupDestination is set or an "
        "OdooBackupSchedule targets the instance, else false.",
    )
    backup_destination: BackupDestination | None = Field(
        default=None,
        description="Where the pre-upgrade backup goes: "
        "<prefix>/<namespace>/<instance>/pre-upgrade/<UTC timestamp>-<upgrade>.zip. "
        "Unset: the destination of the instance's OdooBackupSchedule.",
    )


class OdooBackupJobSpec(JobSpec):
    """Back the database (and filestore) up to S3."""

    destination: S3Location = Field(description="Where to upload the backup.")
    format: BackupFormat = Field(
        default=BackupFormat.ZIP, description="zip (Odoo's layout), sql or dump (pg_dump -Fc)."
    )
    with_filestore: bool = Field(default=True, description="Include the filestore in the backup.")


class OdooRestoreJobSpec(JobSpec):
    """Restore a backup into the instance; the old database stays if anything fails."""

    source: RestoreSource = Field(description="Where the backup comes from.")
    format: BackupFormat = Field(default=BackupFormat.ZIP, description="zip, sql or dump.")
    neutralize: bool = Field(
        default=True, description="Run odoo neutralize after the restore (mails, crons off)."
    )


class OdooInitJob(CustomResource):
    """Initialises the database of an OdooInstance."""

    KIND: ClassVar[str] = "OdooInitJob"
    PLURAL: ClassVar[str] = "odooinitjobs"

    kind: Literal["OdooInitJob"] = Field(default="OdooInitJob", description="OdooInitJob")
    spec: OdooInitJobSpec = Field(description="Desired state.")
    status: JobStatus = Field(default_factory=JobStatus, description="Observed state.")


class OdooUpgradeJob(CustomResource):
    """Upgrades modules of an OdooInstance, then restarts its web pods."""

    KIND: ClassVar[str] = "OdooUpgradeJob"
    PLURAL: ClassVar[str] = "odooupgradejobs"

    kind: Literal["OdooUpgradeJob"] = Field(default="OdooUpgradeJob", description="OdooUpgradeJob")
    spec: OdooUpgradeJobSpec = Field(description="Desired state.")
    status: JobStatus = Field(default_factory=JobStatus, description="Observed state.")


class OdooBackupJob(CustomResource):
    """Backs an OdooInstance up to S3."""

    KIND: ClassVar[str] = "OdooBackupJob"
    PLURAL: ClassVar[str] = "odoobackupjobs"

    kind: Literal["OdooBackupJob"] = Field(default="OdooBackupJob", description="OdooBackupJob")
    spec: OdooBackupJobSpec = Field(description="Desired state.")
    status: JobStatus = Field(default_factory=JobStatus, description="Observed state.")


class OdooRestoreJob(CustomResource):
    """Restores a backup into an OdooInstance."""

    KIND: ClassVar[str] = "OdooRestoreJob"
    PLURAL: ClassVar[str] = "odoorestorejobs"

    kind: Literal["OdooRestoreJob"] = Field(default="OdooRestoreJob", description="OdooRestoreJob")
    spec: OdooRestoreJobSpec = Field(description="Desired state.")
    status: JobStatus = Field(default_factory=JobStatus, description="Observed state.")

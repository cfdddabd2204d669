"""OdooInstance: one Odoo deployment (web + cron), its database, filestore and ingress.

Field names, defaults and enums are those of SPEC §2; values the operator fills from its
flags on first reconcile (`image`, `database.cluster`, `database.name`, `filestore.*`) are
optional here and carry no server-side default: the operator writes the resolved value back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from odoo_operator.api.base import (
    CONDITIONS_LIST,
    QUANTITY_PATTERN,
    ApiModel,
    Condition,
    CustomResource,
    WebhookSpec,
)
from odoo_operator.api.kubernetes_types import (
    Affinity,
    EnvFromSources,
    EnvVars,
    IntOrString,
    ResourceRequirements,
    Tolerations,
)
from odoo_operator.database_names import PG_IDENTIFIER_MAX_BYTES, PG_IDENTIFIER_PATTERN

HEALTH_PATH = "/web/health"


class Environment(StrEnum):
    STAGING = "Staging"
    PRODUCTION = "Production"


class StrategyType(StrEnum):
    RECREATE = "Recreate"
    ROLLING_UPDATE = "RollingUpdate"


class InstancePhase(StrEnum):
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


class IngressSpec(ApiModel):
    """How the instance is exposed: one Ingress with a TLS certificate."""

    hosts: tuple[str, ...] = Field(
        description="Hostnames to serve; the first one gives status.url.", min_length=1
    )
    issuer: str | None = Field(
        default=None,
        description="cert-manager ClusterIssuer for the TLS certificate "
        "(default: --default-ingress-issuer).",
    )
    ingress_class: str | None = Field(
        default=None,
        alias="class",
        description="IngressClass name (default: --default-ingress-class).",
    )


class DatabaseSpec(ApiModel):
    """Which PostgreSQL cluster and database the instance uses; both fixed once set."""

    cluster: str | None = Field(
        default=None,
        description="Cluster name in the clusters Secret; the operator writes the default "
        "cluster here on first reconcile. Immutable once set.",
    )
    name: str | None = Field(
        default=None,
        description="Database name (default odoo_<uid>, written on first reconcile). "
        "Immutable once set.",
        max_length=PG_IDENTIFIER_MAX_BYTES,
        pattern=PG_IDENTIFIER_PATTERN,
    )


class FilestoreSpec(ApiModel):
    """The PersistentVolumeClaim that holds Odoo's filestore."""

    storage_size: str | None = Field(
        default=None,
        description="PVC size, may only grow (default: --default-storage-size, written on "
        "first reconcile).",
        pattern=QUANTITY_PATTERN,
    )
    storage_class: str | None = Field(
        default=None,
        description="StorageClass of the PVC (default: --default-storage-class). "
        "Immutable once set.",
    )


class RollingUpdateSpec(ApiModel):
    """Limits of a rolling update of the web Deployment."""

    max_surge: IntOrString = Field(
        default="25%", description="Pods above the desired count during an update (number or %)."
    )
    max_unavailable: IntOrString = Field(
        default="25%", description="Pods that may be unavailable during an update (number or %)."
    )


class StrategySpec(ApiModel):
    """How the web Deployment replaces its pods."""

    type: StrategyType = Field(
        default=StrategyType.RECREATE, description="Recreate or RollingUpdate."
    )
    rolling_update: RollingUpdateSpec | None = Field(
        default=None, description="Settings for RollingUpdate."
    )


class ProbesSpec(ApiModel):
    """HTTP paths probed on port 8069."""

    startup_path: str = Field(default=HEALTH_PATH, description="Path of the startup probe.")
    liveness_path: str = Field(default=HEALTH_PATH, description="Path of the liveness probe.")
    readiness_path: str = Field(default=HEALTH_PATH, description="Path of the readiness probe.")


class CronSpec(ApiModel):
    """The separate Deployment that runs Odoo's scheduled actions."""

    replicas: int = Field(default=1, ge=0, description="Cron pods; 0 disables scheduled actions.")
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU/memory of cron pods (default: the web resources)."
    )


class InitSpec(ApiModel):
    """Let the operator initialise the database itself (an OdooInitJob <name>-auto-init)."""

    enabled: bool = Field(default=True, description="Create the init job automatically.")
    modules: tuple[str, ...] = Field(
        default=("base",), description="Modules to install.", min_length=1
    )
    demo: bool = Field(default=False, description="Load demo data.")


class OdooInstanceSpec(ApiModel):
    """The desired state of an Odoo instance."""

    image: str | None = Field(
        default=None,
        description="Odoo container image (default: --default-odoo-image, written on first "
        "reconcile).",
    )
    replicas: int = Field(default=1, ge=0, description="Web pods; 0 stops the instance.")
    admin_password: str | None = Field(
        default=None,
        description="Odoo master password (admin_passwd); generated and kept in the "
        "<name>-odoo-user Secret when unset.",
    )
    image_pull_secret: str | None = Field(
        default=None,
        description="Pull secret in the operator namespace, copied into this namespace.",
    )
    ingress: IngressSpec | None = Field(default=None, description="Public hostnames and TLS.")
    database: DatabaseSpec = Field(
        default_factory=DatabaseSpec, description="PostgreSQL cluster and database name."
    )
    filestore: FilestoreSpec = Field(
        default_factory=FilestoreSpec, description="Persistent storage for the filestore."
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU/memory of web pods (default: --default-resources)."
    )
    affinity: Affinity | None = Field(
        default=None, description="Pod affinity rules (default: --default-affinity)."
    )
    tolerations: Tolerations | None = Field(
        default=None, description="Pod tolerations (default: --default-tolerations)."
    )
    strategy: StrategySpec = Field(
        default_factory=StrategySpec, description="Update strategy of the web Deployment."
    )
    probes: ProbesSpec = Field(default_factory=ProbesSpec, description="Health check paths.")
    config_options: dict[str, str] = Field(
        default_factory=dict, description="Extra odoo.conf options; they override built-ins."
    )
    cron: CronSpec = Field(default_factory=CronSpec, description="The cron Deployment.")
    init: InitSpec | None = Field(
        default=None,
        description="Initialise the database automatically; without it, create an OdooInitJob.",
    )
    webhook: WebhookSpec | None = Field(
        default=None, description="Notification sent on every phase change."
    )
    environment: Environment = Field(
        default=Environment.STAGING,
        description="Staging or Production; labels pods bemade.org/environment.",
    )
    extra_env: EnvVars = Field(
        default_factory=list, description="Environment variables added to Odoo containers."
    )
    extra_env_from: EnvFromSources = Field(
        default_factory=list, description="ConfigMaps/Secrets loaded into Odoo containers' env."
    )


class OdooInstanceStatus(ApiModel):
    """What the operator last observed."""

    phase: InstancePhase | None = Field(default=None, description="Lifecycle phase.")
    ready: bool = Field(default=False, description="True when the phase is Running.")
    ready_replicas: int = Field(default=0, description="Web pods that are ready.")
    target_replicas: int | None = Field(
        default=None, description="Web pods the operator is aiming for."
    )
    db_initialized: bool = Field(default=False, description="The database has been initialised.")
    url: str | None = Field(default=None, description="https://<first host>.")
    selector: str | None = Field(default=None, description="Label selector of web pods (scale).")
    message: str | None = Field(default=None, description="Why the instance is in this phase.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status was computed from."
    )
    last_backup: datetime | None = Field(
        default=None, description="Time of the last successful backup."
    )
    conditions: tuple[Condition, ...] = Field(
        default=(),
        description="Ready and Progressing conditions.",
        json_schema_extra=CONDITIONS_LIST,
    )


class OdooInstance(CustomResource):
    """An Odoo deployment with its database, filestore and ingress."""

    KIND: ClassVar[str] = "OdooInstance"
    PLURAL: ClassVar[str] = "odooinstances"

    kind: Literal["OdooInstance"] = Field(default="OdooInstance", description="OdooInstance")
    spec: OdooInstanceSpec = Field(description="Desired state.")
    status: OdooInstanceStatus = Field(
        default_factory=OdooInstanceStatus, description="Observed state."
    )

"""What every resource of `bemade.org/v1alpha1` shares: the model base, metadata, conditions.

Guarantees:
- Python names are snake_case, wire names camelCase (`storage_size` <-> `storageSize`);
  models accept both on input and `to_dict()` writes camelCase JSON;
- models are frozen; `to_dict()` writes only what was set or read, so
  `Model.model_validate(obj).to_dict() == obj` for every object the API server returns;
- fields the server would prune are ignored on input, so a model never fails on an object
  the server accepted (cross-field rules are for the webhook and the controllers).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "bemade.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Kubernetes' own grammar for quantities (apimachinery resource.Quantity).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


class ApiModel(BaseModel):
    """Base of every spec and status model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON of what was set or read (defaults the user left out stay out)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class ObjectMeta(ApiModel):
    """The metadata fields the operator reads; every other key is kept as it came."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, description="Name, unique in the namespace.")
    namespace: str | None = Field(default=None, description="Namespace of the object.")
    uid: str | None = Field(default=None, description="Unique id set by the API server.")
    resource_version: str | None = Field(
        default=None, description="Version of the object, for optimistic concurrency."
    )
    generation: int | None = Field(default=None, description="Generation of the spec.")
    creation_timestamp: datetime | None = Field(
        default=None, description="When the object was created."
    )
    deletion_timestamp: datetime | None = Field(
        default=None, description="When deletion was requested."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")
    finalizers: tuple[str, ...] = Field(default=(), description="Finalizers.")
    owner_references: tuple[dict[str, Any], ...] = Field(
        default=(), description="Owners of the object."
    )


# Conditions are a list keyed by type, as in every Kubernetes API (server-side apply merges them).
CONDITIONS_LIST: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """A status condition in the standard Kubernetes shape (metav1.Condition)."""

    type: str = Field(
        description="Type of the condition, e.g. Ready.",
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="One CamelCase word saying why (for OdooInstance: the phase).",
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    )
    message: str = Field(default="", description="Human-readable details.", max_length=32768)
    last_transition_time: datetime = Field(
        description="When the status last changed (not when it was last checked)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )


class JobPhase(StrEnum):
    """Where a job resource is in its life."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"


class SecretKeyRef(ApiModel):
    """A key of a Secret in the resource's namespace."""

    name: str = Field(description="Name of the Secret.", min_length=1)
    key: str = Field(description="Key in the Secret.", min_length=1)


class WebhookSpec(ApiModel):
    """Where to POST a JSON notification on phase changes."""

    url: str = Field(
        description="http(s) URL that receives the notification.", pattern=r"^https?://"
    )
    token: str | None = Field(
        default=None, description="Bearer token sent with the notification (prefer the Secret)."
    )
    secret_token_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the bearer token; wins over token."
    )


class CustomResource(ApiModel):
    """The base of our kinds: apiVersion, kind, metadata, then spec and status.

    `KIND` and `PLURAL` name the kind on the wire; `controllers.resources` derives the
    runtime's REST `Resource` of each kind from them (the runtime's `Resource` names a
    collection of the API server, this class is the model of an object).
    """

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]

    api_version: str = Field(default=API_VERSION, description="bemade.org/v1alpha1")
    kind: str = Field(description="Kind of the resource.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")

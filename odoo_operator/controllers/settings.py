"""The operator's own settings: what its controllers and webhook need besides the runtime.

Guarantees:
- one typed, frozen object, checked when built: names are Kubernetes names, the storage
  size a quantity, `resources` / `affinity` / `tolerations` valid Kubernetes objects of
  their type (Kubernetes' own schemas, as in the CRDs), ports and limits in range; a bad
  value raises `pydantic.ValidationError` located at its field;
- no defaults here: `odoo-operator run` (odoo_operator/run/flags.py) states every default
  once and passes every field; tests take `run.flags.defaults()`;
- it holds no secret (the PostgreSQL credentials stay in the clusters Secret, read when
  needed), so it may be logged whole: `as_log()`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from odoo_operator.api.base import QUANTITY_PATTERN
from odoo_operator.api.kubernetes_types import Affinity, ResourceRequirements, Tolerations
from odoo_operator.runtime.objects import check_dns_label

# A DNS subdomain (RFC 1123), as Kubernetes checks the names of Secrets and most objects.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class OperatorSettings(BaseModel):
    """Instance defaults, where the operator's own objects are, what its Jobs and webhook use.

    The JSON values (`default_resources`, ...) are plain dicts and lists: copy before changing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    postgres_clusters_secret: str = Field(
        description="Secret in the operator namespace whose key clusters.yaml lists the "
        "PostgreSQL clusters",
    )
    operator_namespace: str = Field(
        description="namespace of the operator: clusters Secret, pull secrets"
    )
    default_odoo_image: str = Field(min_length=1, description="image of instances without one")
    default_storage_class: str = Field(description="StorageClass of filestores without one")
    default_storage_size: str = Field(description="filestore size when unset (a quantity)")
    default_ingress_class: str | None = Field(description="IngressClass when unset")
    default_ingress_issuer: str | None = Field(description="cert-manager ClusterIssuer when unset")
    default_resources: ResourceRequirements | None = Field(
        description="ResourceRequirements of pods without their own"
    )
    default_affinity: Affinity | None = Field(description="Affinity of pods without their own")
    default_tolerations: Tolerations | None = Field(
        description="Tolerations of pods without their own"
    )
    job_history_limit: int = Field(
        ge=0, description="finished job resources kept per instance and kind"
    )
    operator_image: str | None = Field(description="image the backup and restore Jobs run")
    webhook_port: int = Field(
        ge=0, le=65535, description="HTTPS port of the admission webhook; 0: none"
    )
    webhook_cert_dir: Path = Field(description="directory holding tls.crt and tls.key")

    @field_validator("postgres_clusters_secret")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
            raise ValueError("not a valid Secret name (lowercase DNS subdomain)")
        return value

    @field_validator("operator_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return check_dns_label(value, "namespace name")

    @field_validator("default_storage_size")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not re.fullmatch(QUANTITY_PATTERN, value):
            raise ValueError("not a Kubernetes quantity (e.g. 2Gi, 500M)")
        return value

    def as_log(self) -> dict[str, Any]:
        """Every setting as JSON-ready values, for the start-up log line."""
        return self.model_dump(mode="json")

"""Everything a `Manager` is configured with, typed and checked in one place.

Guarantees:
- `ManagerOptions` is frozen and rejects unknown fields; every field has a library
  default (the table in docs/runtime.md), so `ManagerOptions()` is a working set-up;
- an invalid value raises `pydantic.ValidationError` when the options are built, never
  later: each problem is located at its field and says what is wrong (the caller, such as
  a command line, names it in its own terms);
- an empty namespace means unset (all namespaces, or the default Lease namespace).

The runtime knows no command line: `odoo-operator run` (odoo_operator/run/) maps its flags
onto these fields and passes every one of them explicitly.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from odoo_operator.runtime.logs import LOG_LEVELS, LogFormat
from odoo_operator.runtime.objects import check_dns_label
from odoo_operator.runtime.server import BindAddress, parse_bind_address


class ManagerOptions(BaseModel):
    """Options of the operator process (see docs/runtime.md for the table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kubeconfig: str | None = Field(
        None,
        description="kubeconfig path(s), ':'-separated as in KUBECONFIG; "
        "unset: KUBECONFIG, in-cluster, ~/.kube/config",
    )
    max_concurrent_reconciles: int = Field(1, ge=1, description="workers per controller")
    leader_elect: bool = Field(True, description="run controllers only while holding the Lease")
    metrics_bind_address: str = Field(":8080", description="`/metrics`; `0` disables")
    health_probe_bind_address: str = Field(
        ":8081", description="`/healthz`, `/readyz`; `0` disables"
    )
    watch_namespace: str | None = Field(None, description="watch one namespace; unset = all")
    log_format: LogFormat = Field("text", description="`text` or `json`")
    log_level: str = Field("info", description="debug, info, warning, error or critical")
    lease_name: str = Field("odoo-operator-leader", description="leader election Lease name")
    lease_namespace: str | None = Field(None, description="Lease namespace; unset: the pod's own")
    lease_duration: float = Field(15.0, gt=0, description="seconds a Lease is valid unrenewed")
    renew_deadline: float = Field(
        10.0, gt=0, description="a leader not renewed for this long steps down (seconds)"
    )
    retry_period: float = Field(2.0, gt=0, description="seconds between Lease attempts")
    identity: str | None = Field(None, description="Lease holder id; default HOSTNAME_<uuid>")
    watchdog_timeout: float = Field(
        70.0, gt=0, description="reopen a watch silent for this long (seconds)"
    )
    cache_sync_timeout: float = Field(
        120.0, gt=0, description="fail start-up if caches are not synced by then"
    )
    shutdown_grace: float = Field(
        30.0, ge=0, description="seconds in-flight reconciles get after SIGTERM"
    )
    request_timeout: float = Field(30.0, gt=0, description="timeout of every API request")
    sync_period: float | None = Field(
        36000.0, gt=0, description="re-deliver every cached object this often; unset = never"
    )
    informer_stale_after: float = Field(
        300.0, gt=0, description="/healthz fails when an informer heard nothing for this long"
    )

    @field_validator("kubeconfig", mode="before")
    @classmethod
    def _kubeconfig(cls, value: Any) -> Any:
        """A path object is taken as its text; whether the files exist is checked on connect."""
        if value in (None, ""):
            return None
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("metrics_bind_address", "health_probe_bind_address")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        parse_bind_address(value)
        return value

    @field_validator("watch_namespace", "lease_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        return check_dns_label(str(value), "namespace name")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    @model_validator(mode="after")
    def _lease_timings(self) -> ManagerOptions:
        if not self.lease_duration > self.renew_deadline > self.retry_period:
            raise ValueError(
                "leader election: need lease_duration > renew_deadline > retry_period, got "
                f"{self.lease_duration} / {self.renew_deadline} / {self.retry_period}"
            )
        return self

    @property
    def metrics_address(self) -> BindAddress | None:
        return parse_bind_address(self.metrics_bind_address)

    @property
    def health_address(self) -> BindAddress | None:
        return parse_bind_address(self.health_probe_bind_address)

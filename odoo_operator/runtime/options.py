"""Everything a `Manager` is configured with, typed and checked in one place.

Field names are the `odoo-operator run` flags in snake_case (`--metrics-bind-address`
-> `metrics_bind_address`); fields without a flag are tuning knobs with the documented
defaults. Invalid values raise `pydantic.ValidationError` whose messages name the flag;
`describe_error` turns one into a single readable line for the command line.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from odoo_operator.runtime.logs import LOG_LEVELS, LogFormat
from odoo_operator.runtime.server import BindAddress, parse_bind_address

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


# The fields that are `odoo-operator run` flags (the others are tuning knobs).
RUN_FLAGS = (
    "kubeconfig",
    "max_concurrent_reconciles",
    "leader_elect",
    "metrics_bind_address",
    "health_probe_bind_address",
    "operator_namespace",
    "watch_namespace",
    "log_format",
    "log_level",
)


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


class ManagerOptions(BaseModel):
    """Options of the operator process (see docs/runtime.md for the table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kubeconfig: Path | None = Field(
        None, description="kubeconfig file; else KUBECONFIG, in-cluster, ~/.kube/config"
    )
    max_concurrent_reconciles: int = Field(1, ge=1, description="workers per controller")
    leader_elect: bool = Field(True, description="run controllers only while holding the Lease")
    metrics_bind_address: str = Field(":8080", description="`/metrics`; `0` disables")
    health_probe_bind_address: str = Field(
        ":8081", description="`/healthz`, `/readyz`; `0` disables"
    )
    operator_namespace: str | None = Field(
        None, description="namespace the operator runs in (default Lease namespace)"
    )
    watch_namespace: str | None = Field(None, description="watch one namespace; unset = all")
    log_format: LogFormat = Field("text", description="`text` or `json`")
    log_level: str = Field("info", description="debug, info, warning, error or critical")
    lease_name: str = Field("odoo-operator-leader", description="leader election Lease name")
    lease_namespace: str | None = Field(
        None,
        description="Lease namespace; default: operator namespace, else the pod's own",
    )
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

    @field_validator("metrics_bind_address", "health_probe_bind_address")
    @classmethod
    def _bind_address(cls, value: str, info: ValidationInfo) -> str:
        parse_bind_address(value, flag(info.field_name or "bind_address"))
        return value

    @field_validator("operator_namespace", "watch_namespace", "lease_namespace")
    @classmethod
    def _namespace(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value in (None, ""):
            return None
        if not _DNS_LABEL.match(str(value)):
            name = flag(info.field_name or "namespace")
            raise ValueError(f"{name} {value!r}: not a valid namespace name (DNS label)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"--log-level {value!r}: expected one of {', '.join(LOG_LEVELS)}")
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
        return parse_bind_address(self.metrics_bind_address, "--metrics-bind-address")

    @property
    def health_address(self) -> BindAddress | None:
        return parse_bind_address(self.health_probe_bind_address, "--health-probe-bind-address")


def describe_error(error: ValidationError) -> str:
    """One line per problem, each naming the flag (for the command line's error output)."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(
            message if message.startswith("--") or not field else f"{flag(field)}: {message}"
        )
    return "\n".join(lines)

"""Operator settings: the flags of `odoo-operator run`, checked once, into one frozen object.

Guarantees:
- every flag can also come from the environment variable named after it in UPPER_SNAKE
  (`--default-storage-size` <-> `DEFAULT_STORAGE_SIZE`); a flag on the command line wins;
- every value is checked before anything starts: JSON flags must be valid JSON *and* valid
  Kubernetes objects of their type (`ResourceRequirements`, `Affinity`, `[]Toleration`),
  sizes must be Kubernetes quantities, addresses `[host]:port`; a bad value stops the
  command with an error that names the flag and what is wrong;
- `OperatorSettings` holds exactly the flags (same names), typed, and holds no secret, so
  it may be logged as a whole.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import click
from pydantic import TypeAdapter, ValidationError

from odoo_operator.api.base import QUANTITY_PATTERN
from odoo_operator.api.kubernetes_types import Affinity, ResourceRequirements, Tolerations
from odoo_operator.runtime.logs import LOG_LEVELS, LogFormat
from odoo_operator.runtime.server import parse_bind_address

# click >= 8.2 types ParamType by its output; older clicks cannot subscript it at run time.
if TYPE_CHECKING:
    ParamType = click.ParamType[Any]
else:
    ParamType = click.ParamType


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperatorSettings:
    """What `odoo-operator run` was asked to do. JSON values are shared: copy before changing."""

    postgres_clusters_secret: str
    operator_namespace: str
    default_odoo_image: str
    default_storage_class: str
    default_storage_size: str
    default_ingress_class: str | None
    default_ingress_issuer: str | None
    default_resources: dict[str, Any] | None
    default_affinity: dict[str, Any] | None
    default_tolerations: list[dict[str, Any]] | None
    job_history_limit: int
    watch_namespace: str | None
    max_concurrent_reconciles: int
    leader_elect: bool
    metrics_bind_address: str
    health_probe_bind_address: str
    webhook_port: int
    webhook_cert_dir: str
    log_format: LogFormat
    log_level: str
    kubeconfig: str | None
    operator_image: str | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class KubernetesJson(ParamType):
    """A JSON document that must be a valid Kubernetes object of one type."""

    def __init__(self, type_name: str, adapter: TypeAdapter[Any]) -> None:
        self.name = f"JSON {type_name}"
        self.type_name = type_name
        self.adapter = adapter

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            document = json.loads(value)
        except json.JSONDecodeError as error:
            self.fail(f"not valid JSON ({error})", param, ctx)
        try:
            return self.adapter.validate_python(document)
        except ValidationError as error:
            self.fail("; ".join(self._explain(e["msg"]) for e in error.errors()), param, ctx)

    def _explain(self, message: str) -> str:
        message = message.removeprefix("Value error, ")
        if message.startswith("not a valid"):
            return message
        return f"not a valid {self.type_name}: {message}"


class KubeconfigPaths(ParamType):
    """One kubeconfig file, or several separated by ':' as in KUBECONFIG (as kubectl: some
    may be missing, but not all)."""

    name = "PATH[:PATH...]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        paths = str(value).split(os.pathsep)
        if not any(os.path.isfile(path) for path in paths):
            self.fail(f"no such file: {', '.join(paths)}", param, ctx)
        return str(value)


class Quantity(ParamType):
    """A Kubernetes quantity such as 2Gi or 500M."""

    name = "QUANTITY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not re.fullmatch(QUANTITY_PATTERN, str(value)):
            self.fail(f"{value!r} is not a Kubernetes quantity (e.g. 2Gi, 500M)", param, ctx)
        return str(value)


class BindAddress(ParamType):
    """`[host]:port` to listen on, or 0 to serve nothing (as in controller-runtime)."""

    name = "[HOST]:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            parse_bind_address(str(value), param.opts[0] if param else "address")
        except ValueError as error:
            self.fail(str(error), param, ctx)
        return str(value)


F = TypeVar("F", bound=Callable[..., Any])


def env_var(flag: str) -> str:
    """`--default-storage-size` -> `DEFAULT_STORAGE_SIZE` (for `--x/--no-x`: `X`)."""
    return flag.split("/", maxsplit=1)[0].removeprefix("--").upper().replace("-", "_")


def _flag(flag: str, help_text: str, **kwargs: Any) -> Callable[[F], F]:
    kwargs.setdefault("default", None)
    return click.option(
        flag, envvar=env_var(flag), show_envvar=True, show_default=True, help=help_text, **kwargs
    )


_OPTIONS: tuple[Callable[[Any], Any], ...] = (
    _flag(
        "--postgres-clusters-secret",
        "Secret in the operator namespace whose key clusters.yaml lists the PostgreSQL clusters.",
        default="postgres-clusters",
    ),
    _flag(
        "--operator-namespace",
        "Namespace of the operator: clusters Secret, pull secrets, leader election Lease.",
        default="odoo-operator",
    ),
    _flag("--default-odoo-image", "Image for instances without spec.image.", default="odoo:18.0"),
    _flag(
        "--default-storage-class",
        "StorageClass for filestores without spec.filestore.storageClass.",
        default="standard",
    ),
    _flag(
        "--default-storage-size",
        "Filestore size when spec.filestore.storageSize is unset.",
        default="2Gi",
        type=Quantity(),
    ),
    _flag("--default-ingress-class", "IngressClass when spec.ingress.class is unset."),
    _flag(
        "--default-ingress-issuer", "cert-manager ClusterIssuer when spec.ingress.issuer is unset."
    ),
    _flag(
        "--default-resources",
        "ResourceRequirements as JSON for pods without spec.resources, "
        'e.g. {"limits":{"memory":"2Gi"}}.',
        type=KubernetesJson("ResourceRequirements", TypeAdapter(ResourceRequirements)),
    ),
    _flag(
        "--default-affinity",
        "Affinity as JSON for pods without spec.affinity.",
        type=KubernetesJson("Affinity", TypeAdapter(Affinity)),
    ),
    _flag(
        "--default-tolerations",
        "List of Toleration as JSON for pods without spec.tolerations.",
        type=KubernetesJson("Toleration list", TypeAdapter(Tolerations)),
    ),
    _flag(
        "--job-history-limit",
        "Finished job resources kept per instance and kind; older ones are deleted.",
        default=10,
        type=click.IntRange(min=0),
    ),
    _flag("--watch-namespace", "Only watch this namespace (default: all namespaces)."),
    _flag(
        "--max-concurrent-reconciles",
        "Reconciles run at once per controller.",
        default=4,
        type=click.IntRange(min=1),
    ),
    _flag(
        "--leader-elect/--no-leader-elect",
        "Elect one active replica through the Lease odoo-operator-leader.",
        default=True,
    ),
    _flag(
        "--metrics-bind-address",
        "Where /metrics listens ([host]:port, 0 to disable).",
        default=":8080",
        type=BindAddress(),
    ),
    _flag(
        "--health-probe-bind-address",
        "Where /healthz and /readyz listen ([host]:port, 0 to disable).",
        default=":8081",
        type=BindAddress(),
    ),
    _flag(
        "--webhook-port",
        "HTTPS port of the validating admission webhook (0: no webhook).",
        default=9443,
        type=click.IntRange(0, 65535),
    ),
    _flag(
        "--webhook-cert-dir",
        "Directory holding the webhook's tls.crt and tls.key.",
        default="/tmp/k8s-webhook-server/serving-certs",  # noqa: S108 - controller-runtime's default
    ),
    _flag(
        "--log-format", "Log output format.", default="text", type=click.Choice(get_args(LogFormat))
    ),
    _flag(
        "--log-level",
        "Least severe level logged: debug, info, warning or error.",
        default="info",
        type=click.Choice(LOG_LEVELS),
    ),
    _flag(
        "--kubeconfig",
        "Kubeconfig file(s) to use; else in-cluster config, else ~/.kube/config.",
        type=KubeconfigPaths(),
    ),
    _flag(
        "--operator-image",
        "Image the backup and restore Jobs run (the operator's own; the chart sets it).",
    ),
)


def operator_options(command: F) -> F:
    """Add every flag of `odoo-operator run` to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def settings_from_flags(flags: dict[str, Any]) -> OperatorSettings:
    """The settings from click's parsed parameters (names are the same)."""
    values = dict(flags)
    values["watch_namespace"] = values["watch_namespace"] or None
    return OperatorSettings(**values)

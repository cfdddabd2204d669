"""Every flag of `odoo-operator run`, defined once, and how parsed flags become typed objects.

Guarantees:
- `FLAGS` is the single definition of each flag: name, environment variable (the name in
  UPPER_SNAKE: `--default-storage-size` <-> `DEFAULT_STORAGE_SIZE`; a flag on the command
  line wins), default, help, and the field it sets in the runtime's `ManagerOptions`
  and/or the operator's `OperatorSettings`. The command, its `--help` and
  docs/reference.md are all built from it; every flag sets at least one field;
- `parse()` passes every flag-backed field explicitly, so a flag's default, never the
  library default of that `ManagerOptions` field, is what `run` uses; it checks
  everything before anything starts: a bad value is a usage error (exit status 2) that
  names the flag and says what is wrong, never a traceback. The rules themselves live
  with the typed objects; this module only turns text into values (JSON, paths) and
  field names back into flags.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import click
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.runtime.client import any_kubeconfig_exists
from odoo_operator.runtime.logs import LOG_LEVELS, LogFormat
from odoo_operator.runtime.options import ManagerOptions

# click >= 8.2 types ParamType by its output; older clicks cannot subscript it at run time.
if TYPE_CHECKING:
    ParamType = click.ParamType[Any]
else:
    ParamType = click.ParamType

F = TypeVar("F", bound=Callable[..., Any])


class JsonText(ParamType):
    """A JSON document (what it must hold is checked by the field it sets)."""

    def __init__(self, type_name: str) -> None:
        self.name = f"JSON {type_name}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            self.fail(f"not valid JSON ({error})", param, ctx)


class KubeconfigPaths(ParamType):
    """One kubeconfig file, or several separated by ':' as in KUBECONFIG (as kubectl: some
    may be missing, but not all)."""

    name = "PATH[:PATH...]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        paths = os.fspath(value)
        if not any_kubeconfig_exists(paths):
            self.fail(f"no such file: {', '.join(paths.split(os.pathsep))}", param, ctx)
        return paths


@dataclass(frozen=True)
class Flag:
    """One flag and where its value goes (`option`: ManagerOptions, `setting`: OperatorSettings)."""

    name: str  # `--x`, or `--x/--no-x` for a boolean
    help: str
    default: Any = None  # None: unset
    type: ParamType | type[Any] | None = None  # None: text
    option: str | None = None
    setting: str | None = None

    @property
    def primary(self) -> str:
        """`--leader-elect` for `--leader-elect/--no-leader-elect`."""
        return self.name.split("/", maxsplit=1)[0]

    @property
    def param(self) -> str:
        """Click's keyword for the value: `--default-storage-size` -> `default_storage_size`."""
        return self.primary.removeprefix("--").replace("-", "_")

    @property
    def env_var(self) -> str:
        return self.param.upper()

    def click_option(self) -> Callable[[F], F]:
        return click.option(
            self.name,
            self.param,
            envvar=self.env_var,
            show_envvar=True,
            show_default=True,
            default=self.default,
            type=self.type,
            help=self.help,
        )


FLAGS: tuple[Flag, ...] = (
    Flag(
        "--postgres-clusters-secret",
        "Secret in the operator namespace whose key clusters.yaml lists the PostgreSQL clusters.",
        default="postgres-clusters",
        setting="postgres_clusters_secret",
    ),
    Flag(
        "--operator-namespace",
        "Namespace of the operator: clusters Secret, pull secrets, leader election Lease.",
        default="odoo-operator",
        setting="operator_namespace",
        option="lease_namespace",
    ),
    Flag(
        "--default-odoo-image",
        "Image for instances without spec.image.",
        default="odoo:18.0",
        setting="default_odoo_image",
    ),
    Flag(
        "--default-storage-class",
        "StorageClass for filestores without spec.filestore.storageClass.",
        default="standard",
        setting="default_storage_class",
    ),
    Flag(
        "--default-storage-size",
        "Filestore size (a Kubernetes quantity) when spec.filestore.storageSize is unset.",
        default="2Gi",
        setting="default_storage_size",
    ),
    Flag(
        "--default-ingress-class",
        "IngressClass when spec.ingress.class is unset.",
        setting="default_ingress_class",
    ),
    Flag(
        "--default-ingress-issuer",
        "cert-manager ClusterIssuer when spec.ingress.issuer is unset.",
        setting="default_ingress_issuer",
    ),
    Flag(
        "--default-resources",
        "ResourceRequirements as JSON for pods without spec.resources, "
        'e.g. {"limits":{"memory":"2Gi"}}.',
        type=JsonText("ResourceRequirements"),
        setting="default_resources",
    ),
    Flag(
        "--default-affinity",
        "Affinity as JSON for pods without spec.affinity.",
        type=JsonText("Affinity"),
        setting="default_affinity",
    ),
    Flag(
        "--default-tolerations",
        "List of Toleration as JSON for pods without spec.tolerations.",
        type=JsonText("Toleration list"),
        setting="default_tolerations",
    ),
    Flag(
        "--job-history-limit",
        "Finished job resources kept per instance and kind; older ones are deleted.",
        default=10,
        type=int,
        setting="job_history_limit",
    ),
    Flag(
        "--watch-namespace",
        "Only watch this namespace (default: all namespaces).",
        option="watch_namespace",
    ),
    Flag(
        "--max-concurrent-reconciles",
        "Reconciles run at once per controller (never two of one object).",
        default=16,
        type=int,
        option="max_concurrent_reconciles",
    ),
    Flag(
        "--leader-elect/--no-leader-elect",
        "Elect one active replica through a Lease in the operator namespace.",
        default=True,
        option="leader_elect",
    ),
    Flag(
        "--leader-elect-lease-duration",
        "Seconds a Lease stays valid unrenewed: how long another replica waits to take over.",
        default=15.0,
        type=float,
        option="lease_duration",
    ),
    Flag(
        "--leader-elect-renew-deadline",
        "Seconds the leader keeps trying to renew before it stops (and exits).",
        default=10.0,
        type=float,
        option="renew_deadline",
    ),
    Flag(
        "--leader-elect-retry-period",
        "Seconds between attempts to acquire or renew the Lease.",
        default=2.0,
        type=float,
        option="retry_period",
    ),
    Flag(
        "--metrics-bind-address",
        "Where /metrics listens ([host]:port, 0 to disable).",
        default=":8080",
        option="metrics_bind_address",
    ),
    Flag(
        "--health-probe-bind-address",
        "Where /healthz and /readyz listen ([host]:port, 0 to disable).",
        default=":8081",
        option="health_probe_bind_address",
    ),
    Flag(
        "--webhook-port",
        "HTTPS port of the validating admission webhook (0: no webhook).",
        default=9443,
        type=int,
        setting="webhook_port",
    ),
    Flag(
        "--webhook-cert-dir",
        "Directory holding the webhook's tls.crt and tls.key.",
        default="/tmp/k8s-webhook-server/serving-certs",  # noqa: S108 - controller-runtime's default
        setting="webhook_cert_dir",
    ),
    Flag(
        "--log-format",
        f"Log output format: {' or '.join(get_args(LogFormat))}.",
        default="text",
        type=click.Choice(get_args(LogFormat)),
        option="log_format",
    ),
    Flag(
        "--log-level",
        f"Least severe level logged: {', '.join(LOG_LEVELS)}.",
        default="info",
        type=click.Choice(LOG_LEVELS),
        option="log_level",
    ),
    Flag(
        "--kubeconfig",
        "Kubeconfig file(s) to use; else in-cluster config, else ~/.kube/config.",
        type=KubeconfigPaths(),
        option="kubeconfig",
    ),
    Flag(
        "--operator-image",
        "Image the backup and restore Jobs run (the operator's own; the chart sets it).",
        setting="operator_image",
    ),
)


def add_flags(command: F) -> F:
    """Add every flag of `FLAGS` to a click command, in the table's order."""
    for flag in reversed(FLAGS):
        command = flag.click_option()(command)
    return command


def parse(values: Mapping[str, Any]) -> tuple[ManagerOptions, OperatorSettings]:
    """The runtime's options and the operator's settings from click's parsed values.

    Raises `click.UsageError` naming every flag whose value the typed objects refused.
    """
    by_option = {flag.option: flag for flag in FLAGS if flag.option is not None}
    by_setting = {flag.setting: flag for flag in FLAGS if flag.setting is not None}
    problems: list[str] = []
    manager_options = _build(ManagerOptions, by_option, values, problems)
    operator_settings = _build(OperatorSettings, by_setting, values, problems)
    if manager_options is None or operator_settings is None:
        raise click.UsageError("\n".join(problems), click.get_current_context(silent=True))
    return manager_options, operator_settings


def defaults() -> tuple[ManagerOptions, OperatorSettings]:
    """What `odoo-operator run` uses without flags or environment (for tests and tools)."""
    return parse({flag.param: flag.default for flag in FLAGS})


M = TypeVar("M", bound=BaseModel)


def _build(
    model: type[M], flags: dict[str, Flag], values: Mapping[str, Any], problems: list[str]
) -> M | None:
    """`model` from the flags that set its fields; or None, each problem added to `problems`."""
    try:
        return model.model_validate({field: values[flag.param] for field, flag in flags.items()})
    except ValidationError as error:
        for problem in error.errors():
            line = _describe(problem, flags)
            if line not in problems:  # one flag may set a field of both objects
                problems.append(line)
        return None


def _describe(problem: ErrorDetails, flags: dict[str, Flag]) -> str:
    """`Invalid value for '--watch-namespace': 'Bad_NS': not a valid namespace name ...`."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    location = problem["loc"]
    if not location:  # a rule across fields: name their flags, not the fields
        for field, setter in flags.items():
            message = re.sub(rf"\b{field}\b", setter.primary, message)
        return f"Invalid values: {message}"
    value = problem.get("input")
    if len(location) == 1 and isinstance(value, str | int | float | bool):
        message = f"{value!r}: {message}"
    flag = flags.get(str(location[0]))
    name = flag.primary if flag is not None else str(location[0])
    return f"Invalid value for '{name}': {message}"

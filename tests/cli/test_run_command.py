"""`odoo-operator run`: flags, their environment variables, checks at start-up, serve."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest
import structlog
from click.testing import CliRunner
from kubernetes_asyncio.client import ApiClient, CoordinationV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator import controllers
from odoo_operator.cli import main
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.run import process
from odoo_operator.run.command import run
from odoo_operator.run.flags import FLAGS, defaults
from odoo_operator.runtime.manager import Manager
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import free_port
from tests.guards import COMMAND_GUARD

OPTIONS = [p for p in run.params if isinstance(p, click.Option)]
JSON_FLAGS = ["--default-resources", "--default-affinity", "--default-tolerations"]

# SPEC §8, in order.
SPEC_FLAGS = [
    "--postgres-clusters-secret", "--operator-namespace", "--default-odoo-image",
    "--default-storage-class", "--default-storage-size", "--default-ingress-class",
    "--default-ingress-issuer", "--default-resources", "--default-affinity",
    "--default-tolerations", "--job-history-limit", "--watch-namespace",
    "--max-concurrent-reconciles", "--leader-elect", "--metrics-bind-address",
    "--health-probe-bind-address", "--webhook-port", "--webhook-cert-dir", "--log-format",
    "--log-level", "--kubeconfig", "--operator-image",
]  # fmt: skip
# Beyond SPEC's list: the Lease timings (SPEC's 15 s / 10 s / 2 s are their defaults).
LEASE_FLAGS = [
    "--leader-elect-lease-duration", "--leader-elect-renew-deadline", "--leader-elect-retry-period",
]  # fmt: skip

Served = list[tuple[ManagerOptions, OperatorSettings]]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Served:
    """Stop `run` at the hand-over to `process.serve` and record what it was given."""
    received: Served = []

    async def record(options: ManagerOptions, settings: OperatorSettings) -> int:
        received.append((options, settings))
        return 0

    monkeypatch.setattr(process, "serve", record)
    return received


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["run", *args], env=env or {})


def env_var(flag: str) -> str:
    return flag.removeprefix("--").upper().replace("-", "_")


def test_every_spec_flag_exists_with_its_env_var() -> None:
    names = [o.opts[0] for o in OPTIONS]
    assert [name for name in names if name not in LEASE_FLAGS] == SPEC_FLAGS
    assert sorted(set(names) - set(SPEC_FLAGS)) == sorted(LEASE_FLAGS)
    leader = next(o for o in OPTIONS if o.name == "leader_elect")
    assert leader.secondary_opts == ["--no-leader-elect"]
    for option in OPTIONS:
        assert option.envvar == env_var(option.opts[0])
        assert option.help


def test_every_flag_sets_a_field_and_every_field_has_a_flag() -> None:
    """Nothing parsed is dropped; the operator's settings are exactly what its flags set."""
    assert all(flag.option or flag.setting for flag in FLAGS)
    assert {flag.option for flag in FLAGS if flag.option} <= set(ManagerOptions.model_fields)
    settings = [flag.setting for flag in FLAGS if flag.setting]
    assert sorted(settings) == sorted(OperatorSettings.model_fields)  # each exactly once


def test_defaults(served: Served) -> None:
    result = invoke([])
    assert result.exit_code == 0, result.output
    options, settings = served[0]
    assert (options, settings) == defaults()
    assert settings.postgres_clusters_secret == "postgres-clusters"
    assert settings.operator_namespace == "odoo-operator"
    assert settings.default_odoo_image == "odoo:18.0"
    assert settings.default_storage_class == "standard"
    assert settings.default_storage_size == "2Gi"
    assert settings.job_history_limit == 10
    assert settings.webhook_port == 9443
    assert settings.default_resources is None
    assert options.watch_namespace is None
    assert options.leader_elect is True
    assert options.lease_namespace == "odoo-operator"
    assert options.max_concurrent_reconciles == 16  # the flag's default, not the library's 1
    assert (options.metrics_bind_address, options.health_probe_bind_address) == (":8080", ":8081")


# flag -> (text given, where it lands, value there)
NON_DEFAULT = {
    "--postgres-clusters-secret": ("pg", "settings", "pg"),
    "--operator-namespace": ("ops", "settings", "ops"),
    "--default-odoo-image": ("odoo:17.0", "settings", "odoo:17.0"),
    "--default-storage-class": ("nfs", "settings", "nfs"),
    "--default-storage-size": ("5Gi", "settings", "5Gi"),
    "--default-ingress-class": ("nginx", "settings", "nginx"),
    "--default-ingress-issuer": ("le", "settings", "le"),
    "--default-resources": ('{"limits": {"cpu": 1}}', "settings", {"limits": {"cpu": 1}}),
    "--default-affinity": ('{"podAffinity": {}}', "settings", {"podAffinity": {}}),
    "--default-tolerations": ('[{"operator": "Exists"}]', "settings", [{"operator": "Exists"}]),
    "--job-history-limit": ("3", "settings", 3),
    "--watch-namespace": ("shop", "options", "shop"),
    "--max-concurrent-reconciles": ("8", "options", 8),
    "--leader-elect": ("false", "options", False),
    "--metrics-bind-address": ("127.0.0.1:9090", "options", "127.0.0.1:9090"),
    "--health-probe-bind-address": ("0", "options", "0"),
    "--webhook-port": ("10443", "settings", 10443),
    "--webhook-cert-dir": ("/certs", "settings", Path("/certs")),
    "--log-format": ("json", "options", "json"),
    "--log-level": ("debug", "options", "debug"),
    "--kubeconfig": (__file__, "options", __file__),  # any existing file
    "--operator-image": ("ghcr.io/x/op:1", "settings", "ghcr.io/x/op:1"),
}


def test_every_env_var_overrides_its_default(served: Served) -> None:
    assert sorted(NON_DEFAULT) == sorted(SPEC_FLAGS)
    env = {env_var(flag): raw for flag, (raw, _, _) in NON_DEFAULT.items()}
    result = invoke([], env)
    assert result.exit_code == 0, result.output
    options, settings = served[0]
    landed = {"options": options, "settings": settings}
    for flag, (_, where, expected) in NON_DEFAULT.items():
        field = next(f for f in FLAGS if f.primary == flag)
        name = field.option if where == "options" else field.setting
        assert getattr(landed[where], str(name)) == expected, flag
    assert options.lease_namespace == "ops"  # --operator-namespace also places the Lease


def test_a_flag_on_the_command_line_wins_over_its_env_var(served: Served) -> None:
    result = invoke(
        ["--default-odoo-image", "odoo:16.0", "--no-leader-elect"],
        {"DEFAULT_ODOO_IMAGE": "odoo:17.0", "LEADER_ELECT": "true"},
    )
    assert result.exit_code == 0, result.output
    options, settings = served[0]
    assert settings.default_odoo_image == "odoo:16.0"
    assert options.leader_elect is False


def test_an_empty_watch_namespace_means_every_namespace(served: Served) -> None:
    """WATCH_NAMESPACE="" is how charts say "all"."""
    result = invoke([], {"WATCH_NAMESPACE": ""})
    assert result.exit_code == 0, result.output
    assert served[0][0].watch_namespace is None


@pytest.mark.parametrize("flag", JSON_FLAGS)
@pytest.mark.parametrize("source", ["flag", "env"])
def test_bad_json_stops_with_an_error_naming_the_flag(
    served: Served, flag: str, source: str
) -> None:
    bad = '{"limits": '
    result = invoke([flag, bad]) if source == "flag" else invoke([], {env_var(flag): bad})
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
    assert "not valid JSON" in result.output
    assert served == []


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--default-resources", '{"limits": {"cpu": "a lot"}}', "limits.cpu: 'a lot' does not"),
        ("--default-resources", '{"limit": {}}', "limit: unknown field"),
        ("--default-affinity", '{"nodeAffinity": []}', "nodeAffinity: must be of type object"),
        ("--default-tolerations", '{"key": "k"}', "valid list"),
        ("--default-tolerations", '[{"tolerationSeconds": "1"}]', "[0].tolerationSeconds"),
    ],
)
def test_json_that_is_not_the_kubernetes_type_names_flag_and_path(
    served: Served, flag: str, value: str, problem: str
) -> None:
    result = invoke([flag, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
    assert problem in result.output
    assert served == []


@pytest.mark.parametrize(
    ("args", "flag", "problem"),
    [
        (
            ["--default-storage-size", "2GB"],
            "--default-storage-size",
            "'2GB': not a Kubernetes quantity",
        ),
        (["--metrics-bind-address", "8080"], "--metrics-bind-address", "'8080': expected"),
        (["--health-probe-bind-address", "host:port"], "--health-probe-bind-address", "expected"),
        (["--webhook-port", "65536"], "--webhook-port", "65536: Input should be less than"),
        (["--job-history-limit", "-1"], "--job-history-limit", "greater than or equal to 0"),
        (["--max-concurrent-reconciles", "0"], "--max-concurrent-reconciles", "greater than"),
        (["--max-concurrent-reconciles", "many"], "--max-concurrent-reconciles", "not a valid"),
        (["--log-format", "xml"], "--log-format", "'xml' is not one of"),
        (["--log-level", "loud"], "--log-level", "'loud' is not one of"),
        (["--kubeconfig", "/no/such/kubeconfig"], "--kubeconfig", "no such file"),
        (["--watch-namespace", "Bad_NS"], "--watch-namespace", "'Bad_NS': not a valid namespace"),
        (["--operator-namespace", ""], "--operator-namespace", "'': not a valid namespace"),
        (["--operator-namespace", "-x"], "--operator-namespace", "'-x': not a valid namespace"),
        (
            ["--postgres-clusters-secret", "No"],
            "--postgres-clusters-secret",
            "'No': not a valid Secret name",
        ),
        (["--default-odoo-image", ""], "--default-odoo-image", "at least 1 character"),
        (["--leader-elect-retry-period", "0"], "--leader-elect-retry-period", "greater than 0"),
    ],
)
def test_every_bad_value_is_a_usage_error_naming_the_flag(
    served: Served, args: list[str], flag: str, problem: str
) -> None:
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.output
    assert problem in result.output
    assert "Traceback" not in result.output
    assert served == []


def test_lease_timings_that_contradict_each_other_name_their_flags(served: Served) -> None:
    result = invoke(["--leader-elect-lease-duration", "5", "--leader-elect-renew-deadline", "8"])
    assert result.exit_code == 2, result.output
    assert (
        "need --leader-elect-lease-duration > --leader-elect-renew-deadline > "
        "--leader-elect-retry-period, got 5.0 / 8.0 / 2.0"
    ) in result.output
    assert served == []


def test_several_bad_values_are_all_named(served: Served) -> None:
    result = invoke(["--watch-namespace", "Bad_NS", "--default-storage-size", "lots"])
    assert result.exit_code == 2
    assert "Invalid value for '--watch-namespace'" in result.output
    assert "Invalid value for '--default-storage-size'" in result.output


def test_a_bad_value_from_the_real_command_is_one_clear_line(tmp_path: Path) -> None:
    """The installed entry point, as a process: a usage error, exit 2, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "odoo_operator", "run", "--watch-namespace", "Bad_NS"],
        capture_output=True,
        text=True,
        timeout=COMMAND_GUARD,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Error: Invalid value for '--watch-namespace': 'Bad_NS': not a valid namespace" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


async def test_serve_registers_the_controllers_then_runs_the_manager(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` hands a connected manager and the settings to `controllers.setup`, then runs."""
    options, settings = defaults()
    settings = settings.model_copy(update={"webhook_port": 0})  # no certificate here
    options = options.model_copy(
        update={
            "kubeconfig": str(control_plane.kubeconfig),
            "leader_elect": False,
            "metrics_bind_address": "0",
            "health_probe_bind_address": "0",
        }
    )
    registered: list[OperatorSettings] = []

    def setup(manager: Manager, given: OperatorSettings) -> None:
        assert manager.client.host  # connected
        assert manager.controllers == []
        registered.append(given)
        manager.stop()  # the manager then runs and stops at once, cleanly

    monkeypatch.setattr(controllers, "setup", setup)
    try:
        assert await process.serve(options, settings) == 0
    finally:
        structlog.reset_defaults()
    assert registered == [settings]


@contextmanager
def _running(*args: str, kubeconfig: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`odoo-operator run` as a process; yields it and its metrics URL once /readyz is 200."""
    health = f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo_operator",
            "run",
            "--log-format",
            "json",
            "--metrics-bind-address",
            metrics,
            "--health-probe-bind-address",
            health,
            "--webhook-port",
            "0",  # no certificate here; tests/webhook serve it
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig)},
    )
    try:
        deadline = time.monotonic() + 60
        while not _ready(f"http://{health}/readyz"):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "not ready after 60 s"
            time.sleep(0.2)
        yield proc, f"http://{metrics}/metrics"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.usefixtures("installed_crds")
def test_run_starts_the_manager_and_stops_cleanly_on_sigterm(
    control_plane: ControlPlane, namespace: str
) -> None:
    args = ("--no-leader-elect", "--watch-namespace", namespace)
    with _running(*args, kubeconfig=control_plane.kubeconfig) as (proc, metrics):
        with urllib.request.urlopen(metrics, timeout=10) as response:  # noqa: S310 - loopback
            scraped = response.read().decode()
        for name in (
            "rest_client_requests_total",
            "leader_election_master_status",
            "odoo_operator_instances",
        ):
            assert f"# TYPE {name} " in scraped
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=COMMAND_GUARD)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.splitlines()]
    starting = next(e for e in events if e["event"] == "starting")
    assert starting["options"]["kubeconfig"] == str(control_plane.kubeconfig)  # KUBECONFIG
    assert starting["options"]["max_concurrent_reconciles"] == 16
    assert starting["settings"]["default_odoo_image"] == "odoo:18.0"
    assert (starting["level"], starting["logger"]) == ("info", "odoo_operator.run")
    assert starting["timestamp"].endswith("Z")
    assert control_plane.token not in stderr


@pytest.mark.usefixtures("installed_crds")
async def test_run_with_leader_election_holds_the_lease(
    control_plane: ControlPlane, api_client: ApiClient, namespace: str
) -> None:
    leases = CoordinationV1Api(api_client)
    args = ("--leader-elect", "--operator-namespace", namespace, "--watch-namespace", namespace)
    with _running(*args, kubeconfig=control_plane.kubeconfig) as (proc, _):
        holder = await _lease_holder(leases, namespace, wait_for_holder=True)
        assert holder
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=COMMAND_GUARD) == 0
    assert await _lease_holder(leases, namespace) is None  # released on a clean stop


async def _lease_holder(
    leases: CoordinationV1Api, namespace: str, *, wait_for_holder: bool = False
) -> str | None:
    """The Lease's holder; with `wait_for_holder`, polls until there is one (30 s)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            lease = await leases.read_namespaced_lease("odoo-operator-leader", namespace)
            holder: str | None = lease.spec.holder_identity or None
        except ApiException as error:
            if error.status != 404:
                raise
            holder = None
        if holder or not wait_for_holder or time.monotonic() > deadline:
            return holder
        await asyncio.sleep(0.2)

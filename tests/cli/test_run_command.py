"""`odoo-operator run`: flags, their environment variables, checks at start-up, serve."""

from __future__ import annotations

import asyncio
import dataclasses
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
from click.testing import CliRunner
from kubernetes_asyncio.client import ApiClient, CoordinationV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator import app
from odoo_operator.cli import main
from odoo_operator.config import OperatorSettings, env_var
from odoo_operator.run_command import run
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import free_port

RUN = run
OPTIONS = [p for p in RUN.params if isinstance(p, click.Option)]
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


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[OperatorSettings]:
    """Stop `run` at the hand-over to `app.serve` and record what it was given."""
    received: list[OperatorSettings] = []

    async def record(settings: OperatorSettings) -> int:
        received.append(settings)
        return 0

    monkeypatch.setattr(app, "serve", record)
    return received


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["run", *args], env=env or {})


def test_every_spec_flag_exists_with_its_env_var() -> None:
    assert [o.opts[0] for o in OPTIONS] == SPEC_FLAGS
    leader = next(o for o in OPTIONS if o.name == "leader_elect")
    assert leader.secondary_opts == ["--no-leader-elect"]
    for option in OPTIONS:
        assert option.envvar == option.opts[0].removeprefix("--").upper().replace("-", "_")
        assert option.help


def test_settings_hold_exactly_the_flags() -> None:
    assert [f.name for f in dataclasses.fields(OperatorSettings)] == [o.name for o in OPTIONS]


def test_defaults(served: list[OperatorSettings]) -> None:
    result = invoke([])
    assert result.exit_code == 0, result.output
    settings = served[0]
    assert settings.postgres_clusters_secret == "postgres-clusters"
    assert settings.default_odoo_image == "odoo:18.0"
    assert settings.default_storage_class == "standard"
    assert settings.default_storage_size == "2Gi"
    assert settings.job_history_limit == 10
    assert settings.watch_namespace is None
    assert settings.leader_elect is True
    assert (settings.metrics_bind_address, settings.health_probe_bind_address) == (":8080", ":8081")
    assert settings.webhook_port == 9443
    assert settings.default_resources is None


NON_DEFAULT = {
    "--postgres-clusters-secret": ("pg", "pg"),
    "--operator-namespace": ("ops", "ops"),
    "--default-odoo-image": ("odoo:17.0", "odoo:17.0"),
    "--default-storage-class": ("nfs", "nfs"),
    "--default-storage-size": ("5Gi", "5Gi"),
    "--default-ingress-class": ("nginx", "nginx"),
    "--default-ingress-issuer": ("le", "le"),
    "--default-resources": ('{"limits": {"cpu": 1}}', {"limits": {"cpu": 1}}),
    "--default-affinity": ('{"podAffinity": {}}', {"podAffinity": {}}),
    "--default-tolerations": ('[{"operator": "Exists"}]', [{"operator": "Exists"}]),
    "--job-history-limit": ("3", 3),
    "--watch-namespace": ("shop", "shop"),
    "--max-concurrent-reconciles": ("8", 8),
    "--leader-elect": ("false", False),
    "--metrics-bind-address": ("127.0.0.1:9090", "127.0.0.1:9090"),
    "--health-probe-bind-address": ("0", "0"),
    "--webhook-port": ("10443", 10443),
    "--webhook-cert-dir": ("/certs", "/certs"),
    "--log-format": ("json", "json"),
    "--log-level": ("debug", "debug"),
    "--kubeconfig": (__file__, __file__),  # any existing file
    "--operator-image": ("ghcr.io/x/op:1", "ghcr.io/x/op:1"),
}


def test_every_env_var_overrides_its_default(served: list[OperatorSettings]) -> None:
    assert sorted(NON_DEFAULT) == sorted(SPEC_FLAGS)
    env = {env_var(flag): raw for flag, (raw, _) in NON_DEFAULT.items()}
    result = invoke([], env)
    assert result.exit_code == 0, result.output
    settings = served[0].as_dict()
    for flag, (_, expected) in NON_DEFAULT.items():
        assert settings[flag.removeprefix("--").replace("-", "_")] == expected, flag


def test_a_flag_on_the_command_line_wins_over_its_env_var(
    served: list[OperatorSettings],
) -> None:
    result = invoke(
        ["--default-odoo-image", "odoo:16.0", "--no-leader-elect"],
        {"DEFAULT_ODOO_IMAGE": "odoo:17.0", "LEADER_ELECT": "true"},
    )
    assert result.exit_code == 0, result.output
    assert served[0].default_odoo_image == "odoo:16.0"
    assert served[0].leader_elect is False


@pytest.mark.parametrize("flag", JSON_FLAGS)
@pytest.mark.parametrize("source", ["flag", "env"])
def test_bad_json_stops_with_an_error_naming_the_flag(
    served: list[OperatorSettings], flag: str, source: str
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
    served: list[OperatorSettings], flag: str, value: str, problem: str
) -> None:
    result = invoke([flag, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
    assert problem in result.output
    assert served == []


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--default-storage-size", "2GB"], "--default-storage-size"),
        (["--metrics-bind-address", "8080"], "--metrics-bind-address"),
        (["--health-probe-bind-address", "host:port"], "--health-probe-bind-address"),
        (["--webhook-port", "65536"], "--webhook-port"),
        (["--job-history-limit", "-1"], "--job-history-limit"),
        (["--max-concurrent-reconciles", "0"], "--max-concurrent-reconciles"),
        (["--log-format", "xml"], "--log-format"),
        (["--kubeconfig", "/no/such/kubeconfig"], "--kubeconfig"),
    ],
)
def test_other_bad_values_name_the_flag(
    served: list[OperatorSettings], args: list[str], flag: str
) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
    assert served == []


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


def test_run_starts_the_manager_and_stops_cleanly_on_sigterm(
    control_plane: ControlPlane,
) -> None:
    with _running("--no-leader-elect", kubeconfig=control_plane.kubeconfig) as (proc, metrics):
        with urllib.request.urlopen(metrics, timeout=10) as response:  # noqa: S310 - loopback
            scraped = response.read().decode()
        for name in ("rest_client_requests_total", "leader_election_master_status"):
            assert f"# TYPE {name} " in scraped
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.splitlines()]
    starting = next(e for e in events if e["event"] == "starting")
    assert starting["kubeconfig"] == str(control_plane.kubeconfig)  # from KUBECONFIG
    assert (starting["level"], starting["logger"]) == ("info", "odoo_operator.app")
    assert starting["timestamp"].endswith("Z")
    assert control_plane.token not in stderr


async def test_run_with_leader_election_holds_the_lease(
    control_plane: ControlPlane, api_client: ApiClient, namespace: str
) -> None:
    leases = CoordinationV1Api(api_client)
    args = ("--leader-elect", "--operator-namespace", namespace)
    with _running(*args, kubeconfig=control_plane.kubeconfig) as (proc, _):
        holder = await _lease_holder(leases, namespace, wait_for_holder=True)
        assert holder
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
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

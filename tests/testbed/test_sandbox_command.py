"""`odoo-operator sandbox` end to end: ready line, kubectl works, SIGTERM leaves nothing.

"Nothing" includes the containers the pod simulator runs: the check covers every
process below the sandbox, not only its direct children. The operator inside the
sandbox has its own tests (tests/sandbox/test_operator_inside.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from odoo_operator.sandbox.assets import EnvtestAssets, cache_dir, cache_root, etcd_version
from odoo_operator.sandbox.command import run_until_signal
from odoo_operator.sandbox.process import descendants, pid_alive
from odoo_operator.sandbox.runner import Sandbox
from tests.guards import COMMAND_GUARD
from tests.kubectl import kubectl
from tests.sandbox_command import (
    ODOO_OPERATOR,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    children,
    command_line,
    running_sandbox,
)

# What the webhook would refuse (PostgreSQL's own database), when there is a webhook.
RESERVED_DATABASE = {
    "apiVersion": "bemade.org/v1alpha1",
    "kind": "OdooInstance",
    "metadata": {"name": "unchecked", "namespace": "odoo-operator"},
    "spec": {"database": {"name": "postgres"}},
}


def test_without_the_operator_the_rest_runs_until_sigterm_and_stops_everything(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    kubeconfig = tmp_path / "out" / "sandbox.kubeconfig"
    kubeconfig.parent.mkdir()
    with running_sandbox(tmp_path, kubeconfig, "--without", "operator") as proc:
        namespaces = kubectl(kubeconfig, "get", "ns", "-o", "name").stdout.split()
        assert "namespace/odoo-operator" in namespaces
        secrets = kubectl(kubeconfig, "-n", "odoo-operator", "get", "secrets", "-o", "name")
        assert {"secret/postgres-clusters", "secret/s3-credentials"} <= set(secrets.stdout.split())
        info = json.loads((kubeconfig.parent / "sandbox.json").read_text())
        assert info["kubeconfig"] == str(kubeconfig.resolve())
        assert info["s3"]["bucket"] == "backups"
        assert info["kubelet"]["node"] == "sandbox-node"
        node = kubectl(kubeconfig, "get", "node", "sandbox-node", "-o",
                       "jsonpath={.status.conditions[?(@.type=='Ready')].status}")  # fmt: skip
        assert node.stdout == "True"
        started = children(proc.pid)
        # etcd, kube-apiserver, kube-controller-manager, postgres, moto, pod simulator
        assert len(started) == 6
        assert not any("run" in command_line(pid) for pid in started)  # no operator
        assert (info["metrics"], info["health"], info["webhook"]) == (None, None, None)
        # The CRDs are there, but nothing checks or reconciles what is applied.
        hooks = kubectl(kubeconfig, "get", "validatingwebhookconfigurations", "-o", "name")
        assert hooks.stdout == ""
        kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(RESERVED_DATABASE))
        kubectl(kubeconfig, "run", "sleeper", f"--image={info['operatorImage']}",
                "--restart=Never", "--command", "--", "sleep", "3600")  # fmt: skip
        kubectl(kubeconfig, "wait", "pod/sleeper", "--for=condition=Ready",
                f"--timeout={READY_TIMEOUT:.0f}s")  # fmt: skip
        everything = descendants(proc.pid)
        assert len(everything) > len(started)  # the pod's process, below the simulator
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        assert proc.stdout is not None
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert [pid for pid in everything if pid_alive(pid)] == []


def test_without_every_part_but_the_control_plane_on_prepare_only_assets(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    """`KUBEBUILDER_ASSETS=$(odoo-operator sandbox --prepare-only)` is enough: its etcd runs."""
    prepared = subprocess.run(
        [*ODOO_OPERATOR, "sandbox", "--prepare-only"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assets = prepared.stdout.strip()
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    parts = ("operator", "postgres", "s3", "kubelet", "controller-manager")
    options = [word for part in parts for word in ("--without", part)]
    env = {**os.environ, "KUBEBUILDER_ASSETS": assets}
    # Started as a script starts a background job: with SIGINT ignored. SIGINT stops it
    # all the same.
    with running_sandbox(tmp_path, kubeconfig, *options, env=env, sigint_ignored=True) as proc:
        started = children(proc.pid)
        assert len(started) == 2  # etcd, kube-apiserver
        binaries = {command_line(pid)[0] for pid in started}
        assert binaries == {f"{assets}/etcd", f"{assets}/kube-apiserver"}
        info = json.loads((tmp_path / "sandbox.json").read_text())
        assert info["postgres"] is None
        assert info["s3"] is None
        assert info["kubelet"] is None
        assert info["metrics"] is None
        assert kubectl(kubeconfig, "get", "nodes", "-o", "name").stdout == ""
        secrets = kubectl(kubeconfig, "-n", "odoo-operator", "get", "secrets", "-o", "name")
        assert "secret/postgres-clusters" not in secrets.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0


def test_prepare_only_prints_a_kubebuilder_assets_directory(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    """A cache holding kube-apiserver and kube-controller-manager but no etcd (links to
    the real binaries in a cache of its own) gets a copy of etcd, not a link."""
    assert envtest_assets.kube_controller_manager is not None
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env["ODOO_OPERATOR_CACHE_DIR"] = str(tmp_path / "cache")
    cache = tmp_path / "cache" / cache_dir().relative_to(cache_root())
    cache.mkdir(parents=True)
    for binary in (envtest_assets.kube_apiserver, envtest_assets.kube_controller_manager):
        (cache / binary.name).symlink_to(binary)
    result = subprocess.run(
        [*ODOO_OPERATOR, "sandbox", "--prepare-only"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == cache
    for binary in ("kube-apiserver", "kube-controller-manager", "etcd"):
        assert os.access(cache / binary, os.X_OK), binary
    assert not (cache / "etcd").is_symlink()
    assert etcd_version(cache / "etcd") == etcd_version(envtest_assets.etcd)


def test_missing_assets_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ODOO_OPERATOR, "sandbox", "--prepare-only"],
        capture_output=True,
        text=True,
        timeout=COMMAND_GUARD,
        check=False,
        env={**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: KUBEBUILDER_ASSETS={tmp_path} holds no usable kube-apiserver"
    )


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # gone
        return ""


class LostRequest(AssertionError):
    """The stop request was lost: the sandbox went on to wait as if started cleanly."""


class DroppingStartUp:
    """A sandbox whose start-up gets SIGTERM where Python drops the handler's exception:
    inside a finalizer, as it happened inside logging's after-fork hook while a child
    was being started (seen: "Exception ignored in: <function _releaseLock>")."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.stop_requested = lambda: False  # what run_until_signal hands a Sandbox

    def start(self) -> None:
        self.calls.append("start")

        class Finalizer:
            def __del__(self) -> None:
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(1000))  # the handler runs here; what it raises is dropped

        Finalizer()  # collected at once
        self.calls.append(f"started; stop requested: {self.stop_requested()}")

    def stop(self) -> None:
        self.calls.append("stop")


def _lost(signum: int, frame: object) -> None:
    raise LostRequest("still waiting for a signal 30 s after the SIGTERM")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop
def test_a_sigterm_whose_interrupt_python_dropped_still_stops_the_sandbox() -> None:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    previous_alarm = signal.signal(signal.SIGALRM, _lost)
    sandbox = DroppingStartUp()
    signal.alarm(30)  # without the fix the sandbox would wait in signal.pause() for ever
    try:
        with pytest.raises(KeyboardInterrupt):
            run_until_signal(sandbox)  # type: ignore[arg-type] - the parts it calls
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous_alarm)
        for number, handler in saved.items():
            signal.signal(number, handler)
    assert sandbox.calls == ["start", "started; stop requested: True", "stop"]


def test_a_stop_request_ends_start_up_at_the_next_step(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    """A request left behind by a dropped interrupt ends start-up right after the process
    start it came during, not once every part answers (which takes seconds more)."""
    sandbox = Sandbox(
        run_dir=tmp_path / "run",
        kubeconfig_out=tmp_path / "kubeconfig",
        without=frozenset({"operator", "kubelet", "controller-manager"}),
        stop_requested=lambda: True,
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            sandbox.start()
        assert sandbox.control_plane is not None  # the first process start
        assert (sandbox.s3, sandbox.postgres) == (None, None)  # the next ones never came
        assert not sandbox.kubeconfig.exists()
    finally:
        sandbox.stop()
    assert sandbox.control_plane.pids() == []


def test_sigterm_during_start_up_stops_what_had_started(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    proc = subprocess.Popen(
        [*ODOO_OPERATOR, "sandbox", "--kubeconfig-out", str(tmp_path / "k"),
         "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wait until etcd runs (the log file alone can appear before its process does);
        # the rest has not answered yet, so the signal lands in the middle of start-up.
        # Not any child: importing croniter runs `file` (platform.architecture()) before
        # the sandbox has set its handlers, and a SIGTERM then ends it by default.
        deadline = time.monotonic() + READY_TIMEOUT
        while "etcd" not in [process_name(pid) for pid in children(proc.pid)]:
            assert time.monotonic() < deadline, "the sandbox started no etcd in time"
            time.sleep(0.05)
        started = children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=STOP_TIMEOUT)
        assert "sandbox ready" not in out
        assert "sandbox stopped" in err  # stopped by us, not only by the parent-death signal
        # A child the parent-death signal is killing may take a moment to be gone.
        deadline = time.monotonic() + 30
        while (alive := [pid for pid in started if pid_alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive == [], [command_line(pid) for pid in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

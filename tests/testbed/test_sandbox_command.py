"""`odoo-operator sandbox` end to end: ready line, kubectl works, SIGTERM leaves nothing.

"Nothing" includes the containers the pod simulator runs: the check covers every
process below the sandbox, not only its direct children.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.process import descendants, pid_alive
from tests.kubectl import kubectl
from tests.leakcheck import command_line

ODOO_OPERATOR = [sys.executable, "-m", "odoo_operator"]


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc (what the sandbox started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # the process ended while we looked
            continue
        if int(stat[1]) == pid:
            found.append(int(entry.name))
    return found


@contextmanager
def _sandbox(tmp_path: Path, kubeconfig: Path, *options: str) -> Iterator[subprocess.Popen[str]]:
    """`odoo-operator sandbox` as a user runs it; killed at the end if still running."""
    proc = subprocess.Popen(
        [
            *ODOO_OPERATOR,
            "sandbox",
            "--kubeconfig-out",
            str(kubeconfig),
            "--run-dir",
            str(tmp_path / "run"),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(proc, timeout=120)
        assert line == "sandbox ready\n", proc.stderr.read() if proc.stderr else line
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sandbox_runs_until_sigterm_and_stops_everything(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    kubeconfig = tmp_path / "out" / "sandbox.kubeconfig"
    kubeconfig.parent.mkdir()
    with _sandbox(tmp_path, kubeconfig) as proc:
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
        children = _children(proc.pid)
        # etcd, kube-apiserver, kube-controller-manager, postgres, moto, pod simulator
        assert len(children) == 6
        kubectl(kubeconfig, "run", "sleeper", f"--image={info['operatorImage']}",
                "--restart=Never", "--command", "--", "sleep", "3600")  # fmt: skip
        kubectl(kubeconfig, "wait", "pod/sleeper", "--for=condition=Ready", "--timeout=60s")
        everything = descendants(proc.pid)
        assert len(everything) > len(children)  # the pod's process, below the simulator
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert proc.stdout is not None
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert [pid for pid in everything if pid_alive(pid)] == []


def test_sandbox_without_parts(tmp_path: Path, envtest_assets: EnvtestAssets) -> None:
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    parts = ("postgres", "s3", "kubelet", "controller-manager")
    options = [word for part in parts for word in ("--without", part)]
    with _sandbox(tmp_path, kubeconfig, *options) as proc:
        assert len(_children(proc.pid)) == 2  # etcd, kube-apiserver
        info = json.loads((tmp_path / "sandbox.json").read_text())
        assert info["postgres"] is None
        assert info["s3"] is None
        assert info["kubelet"] is None
        assert kubectl(kubeconfig, "get", "nodes", "-o", "name").stdout == ""
        secrets = kubectl(kubeconfig, "-n", "odoo-operator", "get", "secrets", "-o", "name")
        assert "secret/postgres-clusters" not in secrets.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def test_prepare_only_prints_the_assets_directory(envtest_assets: EnvtestAssets) -> None:
    result = subprocess.run(
        [*ODOO_OPERATOR, "sandbox", "--prepare-only"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == envtest_assets.directory


def test_missing_assets_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ODOO_OPERATOR, "sandbox", "--prepare-only"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: KUBEBUILDER_ASSETS={tmp_path} holds no usable kube-apiserver"
    )


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
        deadline = time.monotonic() + 60
        while not (children := _children(proc.pid)):
            assert time.monotonic() < deadline, "the sandbox started no process within 60s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert "sandbox ready" not in out
        assert "sandbox stopped" in err  # stopped by us, not only by the parent-death signal
        # A child the parent-death signal is killing may take a moment to be gone.
        deadline = time.monotonic() + 30
        while (
            alive := [pid for pid in children if pid_alive(pid)]
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive == [], [command_line(pid) for pid in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""`odoo-operator sandbox` -> `sandbox ready`, warm (assets cached), as a user starts it.

Runs the command as a subprocess `RUNS` times; for each, the wall time from starting it
to its `sandbox ready` line, the load average when it started, the CPU time the sandbox
and every process below it had used by then (the work, whatever the machine's load),
and (from its stderr) the time each part reported ready. Prints figures; asserts only
that it became ready and stopped cleanly, never how fast.
Run: `flock /tmp/odoo-bench.lock .venv/bin/pytest tests/bench/test_sandbox_bench.py -m bench -s`
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.process import descendants
from tests.sandbox_command import ODOO_OPERATOR, READY_TIMEOUT, read_line

pytestmark = pytest.mark.bench
RUNS = 3


def _cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and of its children it has reaped (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # ended meanwhile
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    return _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in descendants(pid))


def _one_start(run_dir: Path) -> tuple[float, float, float, list[str]]:
    """(seconds to `sandbox ready`, load average at start, CPU seconds by then, its
    `[sandbox]` lines)."""
    load = os.getloadavg()[0]
    began = time.monotonic()
    proc = subprocess.Popen(
        [*ODOO_OPERATOR, "sandbox", "--kubeconfig-out", str(run_dir / "k"),
         "--run-dir", str(run_dir / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = read_line(proc, READY_TIMEOUT)
        ready_after = time.monotonic() - began
        cpu = _tree_cpu_seconds(proc.pid)
        assert line == "sandbox ready\n"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ready_after, load, cpu, [s for s in err.splitlines() if s.startswith("[sandbox]")]


def test_sandbox_start_figures(tmp_path: Path, envtest_assets: EnvtestAssets) -> None:
    results = [_one_start(tmp_path / f"run-{n}") for n in range(RUNS)]
    print(
        "\n| run | load average at start | `sandbox ready` after | CPU used by then |"
        "\n|---|---|---|---|"
    )
    for number, (seconds, load, cpu, _) in enumerate(results, 1):
        print(f"| {number} | {load:.1f} | {seconds:.1f} s | {cpu:.1f} s |")
    print("\nParts of the last run (seconds since the sandbox began):")
    print("\n".join(results[-1][3]))

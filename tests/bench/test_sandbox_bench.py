"""`odoo-operator sandbox` -> `sandbox ready`, warm (assets cached), as a user starts it.

Runs the command as a subprocess `RUNS` times; for each, the wall time from starting it
to its `sandbox ready` line, the load average when it started, and (from its stderr) the
time each part reported ready. Prints figures; asserts only that it became ready and
stopped cleanly, never how fast.
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
from tests.sandbox_command import ODOO_OPERATOR, READY_TIMEOUT, read_line

pytestmark = pytest.mark.bench
RUNS = 3


def _one_start(run_dir: Path) -> tuple[float, float, list[str]]:
    """(seconds to `sandbox ready`, load average at start, its `[sandbox]` lines)."""
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
        assert line == "sandbox ready\n"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ready_after, load, [s for s in err.splitlines() if s.startswith("[sandbox]")]


def test_sandbox_start_figures(tmp_path: Path, envtest_assets: EnvtestAssets) -> None:
    results = [_one_start(tmp_path / f"run-{n}") for n in range(RUNS)]
    print("\n| run | load average at start | `sandbox ready` after |\n|---|---|---|")
    for number, (seconds, load, _) in enumerate(results, 1):
        print(f"| {number} | {load:.1f} | {seconds:.1f} s |")
    print("\nParts of the last run (seconds since the sandbox began):")
    print("\n".join(results[-1][2]))

"""docs/quickstart.md cannot rot: its `sh` blocks run verbatim, in order, in one bash
session, in the directory where the sandbox wrote `sandbox.kubeconfig` and `sandbox.json`
(as a user who ran README's command there would)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_operator.sandbox.runner import Sandbox
from tests.kubectl import kubectl

PAGE = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def sh_blocks(markdown: str) -> list[str]:
    return SH_BLOCK.findall(markdown)


def test_the_page_has_its_steps() -> None:
    blocks = sh_blocks(PAGE.read_text())
    script = "\n".join(blocks)
    for step in ("OdooInstance", "OdooInitJob", "replicas", "OdooBackupJob", "OdooRestoreJob"):
        assert step in script, f"docs/quickstart.md runs no {step} step"
    assert "kubectl delete odoo" in script


@pytest.mark.timeout(1800)
def test_the_quickstart_runs_verbatim_on_the_sandbox(sandbox: Sandbox) -> None:
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(PAGE.read_text()))
    bin_dir = str(Path(sys.executable).parent)  # python and odoo-operator of this install
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=sandbox.kubeconfig_out.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    if done.returncode != 0:  # what the objects said when the page stopped
        state = kubectl(
            sandbox.kubeconfig, "get", "odoo,odoorestorejob,odoobackupjob,jobs,pods", "-n", "odoo",
            "-o", "yaml", check=False,
        )  # fmt: skip
        logs = kubectl(
            sandbox.kubeconfig, "logs", "-n", "odoo", "-l", "job-name", "--all-containers",
            "--prefix", "--tail=40", check=False,
        )  # fmt: skip
        output += f"\nobjects:\n{state.stdout}{state.stderr}\nJob logs:\n{logs.stdout}{logs.stderr}"
    assert done.returncode == 0, output
    assert '"event": "backup.done"' in done.stdout, output  # `kubectl logs` of the Job
    assert "('odoo/myodoo/first.zip'," in done.stdout, output
    assert "role odoo.odoo.myodoo: 0 left" in done.stdout, output

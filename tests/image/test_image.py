"""The operator image: hadolint-clean, and built for real with buildah (see `buildah.py`)
and run: `odoo-operator --help` and `pg_dump --version`, as its own non-root user and as
the Jobs' uid 100 / gid 101 on a read-only root filesystem; no compiler inside.

The build takes minutes on a cold cache (`image` marker). buildah and mmdebstrap (Debian
packages) are installed by the session when missing on Debian as root (this kind of
machine, CI); elsewhere the build is skipped, except under CI where it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.buildah import DOCKERFILE, Buildah, buildah, install_missing_tools

# One xdist worker runs the whole module: the image fixture is per module, and spread over
# workers each of them built the image (three concurrent builds of minutes each).
pytestmark = [pytest.mark.image, pytest.mark.timeout(1800), pytest.mark.xdist_group("image")]

PG_MAJOR = 17
JOB_USER = "100:101"  # what the backup/restore Jobs run as (SPEC §4)


def test_the_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass(frozen=True)
class Built:
    tool: Buildah
    tag: str
    rootfs: Path
    config: dict[str, object]
    seconds: float


@pytest.fixture(scope="module")
def image() -> Iterator[Built]:
    missing = install_missing_tools()
    if missing or os.geteuid() != 0:
        reason = (
            f"needs root and {', '.join(missing) or 'buildah'} (apt-get install buildah mmdebstrap)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"image test under CI: {reason}")
        pytest.skip(reason)
    tool = buildah()
    started = time.monotonic()
    tool.ensure_base()
    tag = f"localhost/odoo-operator:test-{uuid.uuid4().hex[:8]}"
    tool.build(tag)
    seconds = time.monotonic() - started
    container = tool.run("from", "--pull=false", tag).strip()
    try:
        rootfs = Path(tool.run("mount", container).strip())
        inspected = json.loads(tool.run("inspect", "--type", "image", tag))
        yield Built(tool, tag, rootfs, inspected["OCIv1"]["config"], seconds)
    finally:
        tool.run("umount", container)
        tool.run("rm", container)
        tool.run("rmi", tag)


def test_build_figures(image: Built) -> None:
    sizes = json.loads(image.tool.run("images", "--json"))
    size = next(i["size"] for i in sizes if image.tag in (i.get("names") or []))
    print(f"image built in {image.seconds:.0f} s (base included if it was missing), {size}")


def test_entrypoint_user_and_labels(image: Built) -> None:
    assert image.config["Entrypoint"] == ["odoo-operator"]
    assert image.config["User"] == "65532:65532"
    labels = image.config["Labels"]
    assert isinstance(labels, dict)
    for key in ("title", "source", "licenses", "version", "description"):
        assert labels[f"org.opencontainers.image.{key}"]


def _run_as(image: Built, user: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run in the image's root filesystem, mounted read-only, as `user`, with exactly the
    image's environment (a private mount namespace; the bind mount dies with it)."""
    env = ["env", "-i", *(str(e) for e in image.config["Env"])]  # type: ignore[attr-defined]
    script = (
        'mount --bind -o ro "$1" "$1" && mount -o remount,bind,ro "$1" && '
        'exec chroot --userspec="$2" "$1" "${@:3}"'
    )
    return subprocess.run(
        ["unshare", "--mount", "--", "bash", "-c", script, "bash", str(image.rootfs), user,
         *env, *command],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("user", ["65532:65532", JOB_USER])
def test_the_cli_and_pg_dump_run_read_only_as_non_root(image: Built, user: str) -> None:
    result = _run_as(image, user, "odoo-operator", "--help")
    assert result.returncode == 0, result.stderr
    assert "job" in result.stdout
    assert "run" in result.stdout
    result = _run_as(image, user, "odoo-operator", "job", "backup", "--help")
    assert result.returncode == 0, result.stderr
    result = _run_as(image, user, "pg_dump", "--version")
    assert result.returncode == 0, result.stderr
    assert re.match(rf"pg_dump \(PostgreSQL\) {PG_MAJOR}\.", result.stdout), result.stdout
    result = _run_as(image, user, "touch", "/tmp/x")
    assert "Read-only file system" in result.stderr  # the check above was read-only for real


def test_the_entrypoint_runs_with_buildah(image: Built) -> None:
    container = image.tool.run("from", "--pull=false", image.tag).strip()
    try:
        out = image.tool.run("run", "--isolation", "chroot", container, "--", "id", "-u")
        assert out.strip() == "65532"
    finally:
        image.tool.run("rm", container)


def test_no_compiler_in_the_final_image(image: Built) -> None:
    for tool in ("gcc", "cc", "c++", "make", "x86_64-linux-gnu-gcc"):
        assert not (image.rootfs / "usr" / "bin" / tool).exists(), tool
    assert not list((image.rootfs / "usr" / "include").glob("python3*"))

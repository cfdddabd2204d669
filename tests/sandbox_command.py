"""Running `odoo-operator sandbox` as a user does: a subprocess, its one stdout line, its
children read from /proc."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ODOO_OPERATOR = [sys.executable, "-m", "odoo_operator"]
READY_TIMEOUT = 180.0  # a loaded machine (other sessions' tests) starts it slowly
STOP_TIMEOUT = 180.0  # and stops it slowly too (a guard against a hang, not a speed bound)


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def children(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc (what the sandbox started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # the process ended while we looked
            continue
        if int(stat[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> list[str]:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().decode()).split("\0")[:-1]
    except OSError:
        return []


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def running_sandbox(
    tmp_path: Path,
    kubeconfig: Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    sigint_ignored: bool = False,
) -> Iterator[subprocess.Popen[str]]:
    """`odoo-operator sandbox` until `sandbox ready`; killed at the end if still running.

    `sigint_ignored` starts it as a shell starts a background job (`odoo-operator sandbox &`
    in a script): with SIGINT ignored, which the child inherits.
    """
    proc = subprocess.Popen(
        [
            *ODOO_OPERATOR,
            "sandbox",
            "--kubeconfig-out",
            str(kubeconfig),
            "--run-dir",
            str(tmp_path / "run"),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 - no threads
    )
    try:
        line = read_line(proc, timeout=READY_TIMEOUT)
        if line != "sandbox ready\n":
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"no `sandbox ready` (got {line!r}); stderr:\n{err}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""A child process that we started, and only that one, stopped by PID.

Guarantees:
- stdout and stderr go to one log file (kept after stop, for debugging);
- `stop()` signals exactly the PID it started (its stop signal, SIGTERM by default,
  then SIGKILL after a grace period) and reaps it; it never searches for processes by name;
- the child receives SIGKILL if the process that started it dies first (Linux
  parent-death signal), so a crashed test run leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1

START_TIMEOUT = 180.0
"""How long a server may take to come up: a guard against a hang, not a speed bound.

A process that exits fails `wait_until` at once; a healthy start takes seconds, but a
two-core machine running several test suites side by side has been seen to need more
than a minute for kube-apiserver's /readyz.
"""


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up now, not in the forked child


def die_with_parent() -> None:
    """Runs in the child between fork and exec (after any uid change).

    Only a foreign call on a function resolved at import time: no locks, no imports,
    which is what keeps `preexec_fn` safe while other threads run.
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ProcessError(RuntimeError):
    """A managed process failed to start or exited early; the message names its log."""


class ManagedProcess:
    """One started child process with its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._user = user
        self._stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise ProcessError(f"{self.name} was never started")
        return self._popen.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user else None,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - see die_with_parent
            )

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, probe: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `probe` until it holds; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ProcessError(
                    f"{self.name} exited before {what}; log {self.log_path}:\n{self.log_tail()}"
                )
            if probe():
                return
            time.sleep(0.1)
        raise ProcessError(f"{self.name} not {what} after {timeout:.0f}s; log {self.log_path}")

    def wait(self) -> int:
        """Block until the process exits, however long that takes; its exit status."""
        if self._popen is None:
            raise ProcessError(f"{self.name} was never started")
        return self._popen.wait()

    def wait_exit(self, timeout: float) -> int:
        """Wait for a process that is meant to finish (such as `initdb`); its exit code."""
        if self._popen is None:
            raise ProcessError(f"{self.name} was never started")
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ProcessError(
                f"{self.name} still running after {timeout:.0f}s; log {self.log_path}"
            ) from None

    def stop(self, grace: float = 10.0) -> None:
        """Signal the PID we started, SIGKILL after `grace` seconds; always reaps it."""
        if self._popen is None or self._popen.poll() is not None:
            return
        self._popen.send_signal(self._stop_signal)
        try:
            self._popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()

    def kill(self) -> None:
        """SIGKILL without grace, as a crash would."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()
            self._popen.wait()


def pid_alive(pid: int) -> bool:
    """True while a process with this PID exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (children, their children, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = list(children.get(pid, ()))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, ()))
    return found

"""The end-of-session leak check: no process or temporary directory of ours outlives a run.

- The pytest process (each xdist worker on its own) becomes a child subreaper
  (`prctl(PR_SET_CHILD_SUBREAPER)`): a process whose parent dies is re-parented to it,
  not to init. So every process a test started, directly or not (servers, `odoo-operator
  run|sandbox|job`, their pg_dump, psql...), stays a descendant, found by walking /proc.
- The session gets a temporary directory of its own (`TMPDIR` and `tempfile.tempdir`,
  inherited by every child), so what our code makes there is ours and nobody else's:
  other test runs on the machine do not disturb the check. Ours are the names starting
  with `odoo-operator-` (PostgreSQL data directories, sandbox run directories); other
  entries (a library's temporaries that it removes at exit) are not checked.
- The last fixture torn down waits up to `GRACE` seconds for descendants to exit, then
  fails the session (an error in the report, under xdist too) naming every process
  still alive (PID and command line) and every entry of ours left there. It then
  kills those processes by PID and removes the directory, so a leak is reported once
  and does not spill into the next run.

Registered from tests/conftest.py (`pytest_plugins`); any pytest run can load it with
`-p tests.leakcheck`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

GRACE = 10.0
OURS = "odoo-operator-"
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), fields[0]


def descendants(root: int) -> list[int]:
    """PIDs of the living (not zombie) processes below `root`, parents first."""
    children: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        found = _parent_and_state(int(entry.name))
        if found is not None:
            children.setdefault(found[0], []).append(int(entry.name))
            states[int(entry.name)] = found[1]
    living: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop(0)
        if states.get(pid) != "Z":
            living.append(pid)
        pending.extend(children.get(pid, []))
    return living


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _wait_for_exit(deadline: float) -> list[int]:
    """Our living descendants once none are left, or at the deadline."""
    while (alive := descendants(os.getpid())) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.fixture(scope="session", autouse=True)
def _nothing_outlives_the_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Set up first, torn down last: see the module docstring."""
    tmp_path_factory.getbasetemp()  # pytest's own temp root stays where it was
    become_subreaper()
    private = Path(tempfile.mkdtemp(prefix="odoo-operator-tests-"))
    private.chmod(0o755)  # the PostgreSQL server's user keeps its data directory under it
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(private)
    try:
        yield
    finally:
        os.environ.pop("TMPDIR")
        if saved[0] is not None:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        alive = _wait_for_exit(time.monotonic() + GRACE)
        processes = [f"{pid} {command_line(pid)}" for pid in alive]
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        left = sorted(str(path) for path in private.glob(f"{OURS}*"))
        shutil.rmtree(private, ignore_errors=True)
        problems = []
        if processes:
            problems.append("processes started by the tests are still running:")
            problems += [f"  {line}" for line in processes]
        if left:
            problems.append("temporary files or directories were left:")
            problems += [f"  {path}" for path in left]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

"""The leak check fires: an inner pytest run whose test leaves things behind must fail.

The inner test leaves a child process running, an orphan (its parent, a shell, exits at
once, so only a subreaper still sees it), and a temporary directory of ours. Run plainly
and under xdist, the session must end with an error naming each of them, and kill them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.leakcheck import command_line, descendants

REPOSITORY = Path(__file__).resolve().parent.parent
MARK = "leakcheck-" + os.urandom(4).hex()  # tells the leaked sleeps apart from any other

SLEEP = f"{sys.executable} -c 'import time; time.sleep(600)'"
LEAKY_TEST = f"""
import shlex, subprocess, tempfile

def test_leaves_things_behind():
    subprocess.Popen([*shlex.split({SLEEP!r}), "{MARK}-child"])
    subprocess.run(["sh", "-c", {SLEEP!r} + " {MARK}-orphan &"], check=True)
    tempfile.mkdtemp(prefix="odoo-operator-{MARK}-")
"""

CLEAN_TEST = """
import subprocess, tempfile

def test_cleans_up(tmp_path):
    subprocess.run(["true"], check=True)
    with tempfile.TemporaryDirectory(prefix="odoo-operator-"):
        pass
"""


def inner_pytest(tmp_path: Path, source: str, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "-p", "tests.leakcheck", "-p", "no:cacheprovider"]
    command += ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), *options]
    return subprocess.run(
        [*command, str(tmp_path / "test_inner.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY), "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def leaked_sleeps() -> list[int]:
    return [pid for pid in descendants(os.getpid()) if MARK in command_line(pid)]


@pytest.mark.parametrize("options", [(), ("-p", "xdist", "-n", "2")], ids=["plain", "xdist"])
def test_a_process_or_directory_left_behind_fails_the_session(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    result = inner_pytest(tmp_path, LEAKY_TEST, *options)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "1 passed, 1 error" in report
    assert "processes started by the tests are still running:" in report
    assert f"time.sleep(600) {MARK}-child" in report
    assert f"time.sleep(600) {MARK}-orphan" in report
    assert "temporary files or directories were left:" in report
    assert f"/odoo-operator-{MARK}-" in report
    # Reported once, then stopped: nothing re-parents to this session and leaks again.
    assert leaked_sleeps() == []


def test_a_clean_session_passes(tmp_path: Path) -> None:
    result = inner_pytest(tmp_path, CLEAN_TEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout

"""Habits of the repository that CI relies on."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", readme, flags=re.DOTALL)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = _readme_commands()
    test_command = next(c for c in commands if "tox" in c and "sandbox" not in c)
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command


def test_readme_has_a_sandbox_and_a_test_command() -> None:
    commands = _readme_commands()
    assert any("odoo-operator sandbox" in c for c in commands)
    assert any("tox" in c for c in commands)


def test_readme_commands_work_in_either_order_on_one_checkout() -> None:
    """After `python3 -m tox`, README's sandbox command must still create its virtualenv.

    tox 4.6x writes a PEP 832 `.venv` redirect *file* into the project root at the end of
    a run unless `venv_redirect = false`; `python3 -m venv .venv` then fails with "Unable
    to create directory '.venv'". And nothing a previous run left may sit there as a file.
    """
    commands = _readme_commands()
    sandbox_command = next(c for c in commands if "odoo-operator sandbox" in c)
    venv = re.search(r"python3 -m venv (\S+)", sandbox_command)
    assert venv is not None
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    assert tox.getboolean("tox", "venv_redirect", fallback=None) is False
    left = ROOT / venv.group(1)
    assert not left.exists() or left.is_dir(), f"{left} is a file: python3 -m venv would fail"

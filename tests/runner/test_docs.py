"""docs/backup-restore.md shows the flags and defaults the code has (rendered from click)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from odoo_operator.runner.command import backup, restore, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup-restore.md"


def render_flags(command: click.Command) -> str:
    rows = ["| flag | default | what |", "|---|---|---|"]
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        flag = param.opts[0]
        if isinstance(param.type, click.Choice):
            flag += " " + "\\|".join(str(choice) for choice in param.type.choices)
        elif not param.is_flag:
            flag += " " + param.type.name.upper()
        default = param.default if isinstance(param.default, str) else ""
        default = "required" if param.required else default
        rows.append(f"| `{flag}` | {default} | {' '.join((param.help or '').split())} |")
    return "\n".join(rows)


@pytest.mark.parametrize(
    ("name", "command"), [("backup", backup), ("restore", restore), ("verify", verify)]
)
def test_flag_tables_match_the_code(name: str, command: click.Command) -> None:
    text = DOC.read_text()
    found = re.search(f"<!-- flags:{name} -->\n(.*?)\n<!-- /flags:{name} -->", text, re.DOTALL)
    assert found, f"docs/backup-restore.md has no <!-- flags:{name} --> block"
    expected = render_flags(command)
    assert found.group(1) == expected, f"replace the {name} flag table with:\n{expected}"

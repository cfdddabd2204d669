"""`odoo-operator --help`, each command's help, and `odoo-operator crds`."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from odoo_operator.api.crd import rendered_files
from odoo_operator.cli import main
from odoo_operator.docgen.files import CHART_CRDS, ROOT

# `state-machine` (lead) and `job` (job runner) join this list when they are merged.
COMMANDS = ("run", "crds", "sandbox", "state-machine", "job")


def test_group_help_lists_every_command_with_a_summary() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name in COMMANDS:
        line = next(line for line in listed.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 20, line  # a real summary, not just the name


def _help(*args: str) -> str:
    result = CliRunner().invoke(
        main,
        [*args, "--help"],
        prog_name="odoo-operator",
        terminal_width=200,
        max_content_width=200,
    )
    assert result.exit_code == 0, args
    output: str = result.output
    return output


def test_each_command_has_help() -> None:
    for name in COMMANDS:
        assert f"Usage: odoo-operator {name} [OPTIONS]" in _help(name)
    run_help = _help("run")
    for text in ("--default-resources", "env var: DEFAULT_RESOURCES", "default: odoo:18.0"):
        assert text in run_help
    assert "--output-dir" in _help("crds")


def test_crds_prints_one_yaml_stream_of_every_crd() -> None:
    result = CliRunner().invoke(main, ["crds"])
    assert result.exit_code == 0
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["spec"]["names"]["kind"] for d in documents] == [
        "OdooInstance", "OdooInitJob", "OdooUpgradeJob", "OdooBackupJob", "OdooRestoreJob",
        "OdooBackupSchedule",
    ]  # fmt: skip
    assert result.stdout == "---\n".join(rendered_files().values())


def test_crds_output_dir_writes_what_the_chart_ships(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["crds", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0
    written = {p.name: p.read_text() for p in (tmp_path / "out").iterdir()}
    shipped = {p.name: p.read_text() for p in (ROOT / CHART_CRDS).iterdir()}
    assert written == shipped

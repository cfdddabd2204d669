"""The simulated Odoo's command-line reading, and the CRI log format with its options."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_operator.sandbox.podsim.logs import ContainerLog, Entry, LogOptions, read, tail
from odoo_operator.sandbox.podsim.logserver import BadRequest, parse_options
from odoo_operator.sandbox.podsim.odoo import parse_command, series_of, shown
from odoo_operator.sandbox.podsim.odoo_schema import SimulationError, bumped, quote_identifier
from tests.guards import COMMAND_GUARD


def test_init_command_as_the_operator_writes_it() -> None:
    command = parse_command(
        ["odoo", "-i", "base,sale", "-d", "db1", "--no-http", "--stop-after-init",
         "--without-demo=all"]
    )  # fmt: skip
    assert command.modules("init") == ["base", "sale"]
    assert command.options["database"] == "db1"
    assert command.one_shot
    assert "--no-http" in command.flags


def test_entrypoint_options_and_ignored_values() -> None:
    command = parse_command(
        ["/entrypoint.sh", "odoo", "--max-cron-threads", "0", "-u", "all", "--database=db2"]
    )
    assert command.modules("update") == ["all"]
    assert command.options["database"] == "db2"
    assert command.options["--max-cron-threads"] == "0"
    assert not command.one_shot
    assert parse_command(["--no-http"]).flags == {"--no-http"}  # args only: the image's odoo
    neutralize = parse_command(["odoo", "neutralize", "-d", "db3"])
    assert (neutralize.subcommand, neutralize.one_shot) == ("neutralize", True)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["sh", "-c", "true"], "cannot simulate command 'sh'"),
        (["odoo", "shell"], "cannot simulate `odoo shell`"),
        (["odoo", "-d"], "option -d needs a value"),
    ],
)
def test_what_cannot_be_simulated_says_so(words: list[str], message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_command(words)


def test_series_from_the_image_tag() -> None:
    assert series_of("odoo:17.0") == "17.0"
    assert series_of("odoo:16") == "16.0"
    assert series_of("registry.example:5000/team/odoo:17.0-20240101") == "17.0"
    assert series_of("odoo:latest") == "18.0"
    assert series_of("odoo") == "18.0"


def test_passwords_are_hidden_in_the_echoed_command() -> None:
    assert shown(["odoo", "-w", "pw", "--db_password=pw2", "-d", "x"]) == (
        "odoo -w *** --db_password=*** -d x"
    )


def test_versions_and_identifiers() -> None:
    assert bumped("17.0.1.3") == "17.0.1.4"
    assert bumped("17.0") == "17.1"
    assert quote_identifier('we"ird') == '"we""ird"'


def _entries(*texts: str, partial: int | None = None) -> list[Entry]:
    return [
        Entry(f"2026-01-01T00:00:0{i}.000000Z", "stdout", i == partial, text.encode())
        for i, text in enumerate(texts)
    ]


def test_tail_counts_lines_not_fragments() -> None:
    entries = _entries("a", "b-", "c", "d", partial=1)  # "b-" + "c" is one line
    assert [e.text for e in tail(entries, 2)] == [b"b-", b"c", b"d"]
    assert [e.text for e in tail(entries, 1)] == [b"d"]
    assert tail(entries, 0) == []
    assert tail(entries, None) == entries


async def test_log_file_round_trip_with_options(tmp_path: Path) -> None:
    log = ContainerLog(tmp_path / "c" / "0.log")
    log.write("stdout", b"one\n")
    log.write("stderr", b"two words\n")
    log.write("stdout", b"par", partial=True)
    log.write("stdout", b"tial\n")
    version = log.version
    log.close()
    assert log.version > version
    entries, offset = read(log.path, LogOptions())
    assert offset == log.path.stat().st_size
    assert b"".join(e.render(False) for e in entries) == b"one\ntwo words\npartial\n"
    stamped = entries[0].render(True).decode()
    assert stamped.endswith("Z one\n")
    assert dt.datetime.fromisoformat(stamped.split(" ")[0].replace("Z", "+00:00"))
    future = LogOptions(since=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert read(log.path, future)[0] == []


def test_bad_log_parameters_name_the_parameter() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_options({"tailLines": "3", "timestamps": "true"}, now) == LogOptions(
        timestamps=True, tail_lines=3
    )
    assert parse_options({"sinceSeconds": "10"}, now).since == now - dt.timedelta(seconds=10)
    for query, message in [
        ({"tailLines": "x"}, "tailLines: 'x' is not an integer"),
        ({"limitBytes": "0"}, "limitBytes: must be at least 1, got 0"),
        ({"sinceTime": "yesterday"}, "sinceTime: 'yesterday' is not an RFC 3339 time"),
    ]:
        with pytest.raises(BadRequest, match=message):
            parse_options(query, now)


def test_the_simulated_odoo_loads_no_kubernetes_client_nor_tls_machinery() -> None:
    """Each simulated Odoo container is a process of its own: it must stay small."""
    probe = (
        "import sys\n"
        "import odoo_operator.sandbox.podsim.odoo\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kubernetes_asyncio', 'aiohttp', 'cryptography', 'yaml')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_GUARD,
    )
    assert result.stdout.strip() == "[]"

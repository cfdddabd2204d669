"""Progress lines carry bytes, duration and throughput; library logging stays off stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from odoo_operator.runner import joblog
from tests.guards import COMMAND_GUARD


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))


def test_progress_reports_bytes_seconds_and_throughput() -> None:
    log = Lines()
    progress = joblog.Progress(log, "upload", interval=0.0)
    progress.add(3 << 20)
    [(event, fields)] = log.lines
    assert event == "progress"
    assert fields["stage"] == "upload"
    assert fields["bytes"] == 3 << 20
    assert isinstance(fields["seconds"], float)
    assert isinstance(fields["mib_per_second"], float)
    assert fields["mib_per_second"] > 0


def test_progress_is_rate_limited() -> None:
    log = Lines()
    progress = joblog.Progress(log, "download", interval=3600.0)
    for _ in range(100):
        progress.add(1)
    assert log.lines == []
    assert progress.figures()["bytes"] == 100


def test_library_warnings_become_json_lines_on_stdout() -> None:
    probe = (
        "import logging\n"
        "from odoo_operator.runner import joblog\n"
        "joblog.configure(joblog.Redactor(['hunter2-secret']))\n"
        "logging.getLogger('asyncio').error('Task exception: hunter2-secret leaked')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_GUARD,
    )
    assert result.stderr == ""
    line = json.loads(result.stdout)
    assert line["event"] == "library.log"
    assert line["logger"] == "asyncio"
    assert line["message"] == "Task exception: *** leaked"

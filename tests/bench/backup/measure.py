"""Wall time, CPU seconds and peak RSS of a pipeline of processes, measured from outside.

`run_pipeline` starts the commands with each one's stdout piped into the next's stdin
(as a shell pipeline would, without a shell), reaps each with `wait4` for its CPU time,
and polls the peak RSS (VmHWM in /proc, which is exact: the kernel keeps the maximum)
of the process named `watched` until it exits.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20


class PeakRss:
    """VmHWM of one process, read from /proc while it runs.

    Not ru_maxrss: that counts the forked copy of the (large) pytest process too.
    """

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                for line in self._path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.kib / 1024


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float  # every process of the pipeline, with the children each waited for
    peak_rss_mib: float  # of the watched process alone
    stdout: bytes  # of the last process


def run_pipeline(
    commands: Sequence[Sequence[str]], env: Mapping[str, str], watched: int = -1
) -> Measured:
    watched %= len(commands)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        processes: list[subprocess.Popen[bytes]] = []
        for index, command in enumerate(commands):
            last = index == len(commands) - 1
            previous = processes[-1].stdout if processes else subprocess.DEVNULL
            processes.append(
                subprocess.Popen(
                    command,
                    stdin=previous,
                    stdout=out if last else subprocess.PIPE,
                    stderr=err,
                    env=dict(env),
                )
            )
            if previous is not subprocess.DEVNULL:
                previous.close()  # type: ignore[union-attr]  # the reader holds it now
        peak = PeakRss(processes[watched].pid)
        cpu = 0.0
        for index, process in enumerate(processes):
            if index == watched:  # reaped only after its last VmHWM read
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
                peak_mib = peak.stop()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    failed = [p.args for p in processes if p.returncode != 0]
    assert not failed, f"{failed} failed: {stderr[-2000:]!r}"
    return Measured(seconds, cpu, peak_mib, stdout)

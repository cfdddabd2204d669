"""Container logs in the CRI format, as a container runtime writes them for the kubelet.

One file per run of a container (`<n>.log`, n = restart count), one entry per line:
`<RFC 3339 time> <stdout|stderr> <F|P> <text>` (`P`: a partial line, continued by the
next entry). Guarantees:
- entries are appended and flushed as the process writes, stdout and stderr
  interleaved in the order they were read;
- `read()` applies the kubelet's options: `sinceTime`/`sinceSeconds`, `tailLines`,
  `timestamps`, `limitBytes`;
- a follower (`kubectl logs -f`) is woken by every write and by the end of the run;
  `version` lets it wait without missing a write that happened while it read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Entry:
    time: str
    stream: str
    partial: bool
    text: bytes

    @staticmethod
    def parse(line: bytes) -> Entry | None:
        parts = line.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            return None
        text = parts[3] if len(parts) == 4 else b""
        return Entry(parts[0].decode(), parts[1].decode(), parts[2] == b"P", text)

    def render(self, timestamps: bool) -> bytes:
        prefix = f"{self.time} ".encode() if timestamps else b""
        return prefix + self.text + (b"" if self.partial else b"\n")


@dataclass(frozen=True)
class LogOptions:
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since: dt.datetime | None = None

    def keeps(self, entry: Entry) -> bool:
        if self.since is None:
            return True
        return dt.datetime.fromisoformat(entry.time.replace("Z", "+00:00")) >= self.since


class ContainerLog:
    """The log of one run of one container."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self.closed = False
        self.version = 0
        self._changed = asyncio.Event()

    def write(self, stream: str, data: bytes, *, partial: bool = False) -> None:
        entry = f"{_now()} {stream} {'P' if partial else 'F'} ".encode()
        self._file.write(entry + data.rstrip(b"\n") + b"\n")
        self._file.flush()
        self._notify()

    def note(self, text: str) -> None:
        """A line of our own (e.g. why the container could not start), on stderr."""
        self.write("stderr", text.encode())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._file.close()
            self._notify()

    def _notify(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_past(self, version: int) -> None:
        """Return once something was written (or the run ended) after `version`."""
        while self.version == version and not self.closed:
            await self._changed.wait()


def read(path: Path, options: LogOptions, offset: int = 0) -> tuple[list[Entry], int]:
    """Entries from byte `offset` on (filtered by `since`), and the offset after them."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
    entries = [Entry.parse(line) for line in complete.splitlines()]
    kept = [e for e in entries if e is not None and options.keeps(e)]
    return kept, offset + len(complete)


def tail(entries: list[Entry], lines: int | None) -> list[Entry]:
    """The last `lines` lines (a partial entry belongs to the line it starts)."""
    if lines is None:
        return entries
    if lines <= 0:
        return []
    count = 0
    for index in range(len(entries) - 1, -1, -1):
        if not entries[index].partial:
            count += 1
            if count > lines:
                return entries[index + 1 :]
    return entries

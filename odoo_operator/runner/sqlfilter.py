"""Pass a plain SQL dump on to psql, minus what a non-superuser role cannot run.

Guarantees:
- Statements are found by a lexer that knows PostgreSQL's quoting ('...', E'...', "...",
  $tag$...$tag$, -- and nested /* */ comments), so nothing inside a string, identifier,
  function body or comment is ever taken for a statement or a statement boundary.
- Dropped, whole: `ALTER ... OWNER TO`, `GRANT`, `REVOKE`, `ALTER DEFAULT PRIVILEGES`,
  `COMMENT ON EXTENSION` (counted in `dropped`). Everything else passes byte for byte,
  in order.
- Refused with a `JobError`: psql meta-commands other than pg_dump's own `\\restrict` /
  `\\unrestrict`, and `CREATE|ALTER|DROP DATABASE`: a dump may only touch the database
  psql was started on (a `pg_dump --create` dump would otherwise write elsewhere).
- `COPY ... FROM stdin` data passes untouched, in bounded memory, up to its `\\.` line.
- `complete` is true only when pg_dump's closing comment is the last thing seen, and
  `close()` refuses input that stops inside a statement or a COPY block: a truncated
  dump is never mistaken for a whole one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from enum import Enum, auto

from odoo_operator.runner.errors import JobError

COMPLETION_MARKER = b"-- PostgreSQL database dump complete"
_ALLOWED_META_COMMANDS = (b"\\restrict", b"\\unrestrict")
_COPY_TERMINATOR = b"\\.\n"

# Statement heads (whitespace collapsed, upper case) that are dropped, by reported name.
_DROPPED_HEADS = (
    (b"GRANT ", "GRANT"),
    (b"REVOKE ", "REVOKE"),
    (b"ALTER DEFAULT PRIVILEGES ", "ALTER DEFAULT PRIVILEGES"),
    (b"COMMENT ON EXTENSION ", "COMMENT ON EXTENSION"),
)
_REFUSED_HEADS = (b"CREATE DATABASE ", b"ALTER DATABASE ", b"DROP DATABASE ")
_OWNER_TO = re.compile(
    rb'\s*ALTER\s.*\sOWNER\s+TO\s+(?:"(?:[^"]|"")*"|[^\s;"]+)\s*;\Z', re.DOTALL | re.IGNORECASE
)
_COPY_FROM_STDIN = re.compile(rb"\s*COPY\s.*\sFROM\s+stdin\s*;\Z", re.DOTALL | re.IGNORECASE)

_IDENTIFIER_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$" + bytes(range(0x80, 0x100))
)
_NORMAL_SPECIAL = re.compile(rb"[;'\"$]|--|/\*")
_DOLLAR_TAG = re.compile(rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
_ESCAPE_STRING_SPECIAL = re.compile(rb"\\.|''|'", re.DOTALL)
_BLOCK_COMMENT_SPECIAL = re.compile(rb"/\*|\*/")


class _State(Enum):
    NORMAL = auto()
    QUOTED = auto()  # '...' (standard conforming: only '' escapes)
    ESCAPE_QUOTED = auto()  # E'...' (backslash escapes too)
    IDENTIFIER = auto()  # "..."
    DOLLAR = auto()  # $tag$...$tag$
    BLOCK_COMMENT = auto()  # /* ... */, nested


class _Lexer:
    """Tracks quoting across lines; reports where top-level statements end."""

    def __init__(self) -> None:
        self.state = _State.NORMAL
        self.tag = b""
        self.depth = 0
        self.code = False  # any token (not comment or blank) since the last top-level ';'

    def scan(self, line: bytes) -> list[int]:
        """Positions just after each top-level `;` in `line`."""
        ends: list[int] = []
        i, n = 0, len(line)
        while i < n:
            if self.state is _State.NORMAL:
                i = self._normal(line, i, ends)
            elif self.state is _State.QUOTED:
                i = self._close_doubled(line, i, b"'")
            elif self.state is _State.IDENTIFIER:
                i = self._close_doubled(line, i, b'"')
            elif self.state is _State.ESCAPE_QUOTED:
                i = self._escape_quoted(line, i)
            elif self.state is _State.DOLLAR:
                j = line.find(self.tag, i)
                if j < 0:
                    return ends
                self.state, i = _State.NORMAL, j + len(self.tag)
            else:
                i = self._block_comment(line, i)
        return ends

    def _normal(self, line: bytes, i: int, ends: list[int]) -> int:
        match = _NORMAL_SPECIAL.search(line, i)
        if line[i : match.start() if match else len(line)].strip():
            self.code = True
        if match is None:
            return len(line)
        token, start = match.group(), match.start()
        if token == b";":
            ends.append(match.end())
            self.code = False
        elif token == b"'":
            self.code = True
            escaped = (
                start > 0
                and line[start - 1] in b"Ee"
                and (start < 2 or line[start - 2] not in _IDENTIFIER_BYTES)
            )
            self.state = _State.ESCAPE_QUOTED if escaped else _State.QUOTED
        elif token == b'"':
            self.code = True
            self.state = _State.IDENTIFIER
        elif token == b"$":
            self.code = True
            tag = _DOLLAR_TAG.match(line, start)
            if tag is not None and (start == 0 or line[start - 1] not in _IDENTIFIER_BYTES):
                self.state, self.tag = _State.DOLLAR, tag.group()
                return tag.end()
        elif token == b"--":
            return len(line)
        else:  # "/*"
            self.state, self.depth = _State.BLOCK_COMMENT, 1
        return match.end()

    def _close_doubled(self, line: bytes, i: int, quote: bytes) -> int:
        j = line.find(quote, i)
        if j < 0:
            return len(line)
        if line[j + 1 : j + 2] == quote:
            return j + 2
        self.state = _State.NORMAL
        return j + 1

    def _escape_quoted(self, line: bytes, i: int) -> int:
        match = _ESCAPE_STRING_SPECIAL.search(line, i)
        if match is None:
            return len(line)
        if match.group() == b"'":
            self.state = _State.NORMAL
        return match.end()

    def _block_comment(self, line: bytes, i: int) -> int:
        match = _BLOCK_COMMENT_SPECIAL.search(line, i)
        if match is None:
            return len(line)
        self.depth += 1 if match.group() == b"/*" else -1
        if self.depth == 0:
            self.state = _State.NORMAL
        return match.end()


def _head(statement: bytes) -> bytes:
    return b" ".join(statement[:200].split()).upper() + b" "


class SqlFilter:
    """Feed dump bytes in any chunking with `feed`, then `close`; output goes to `sink`."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._buffer = bytearray()
        self._statement = bytearray()
        self._lexer = _Lexer()
        self._in_copy = False
        self._copy_mid_line = False
        self.complete = False
        self.statements = 0
        self.dropped: Counter[str] = Counter()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        position = 0
        while True:
            if self._in_copy:
                position, more = self._copy_data(position)
                if more:
                    continue
                break
            newline = self._buffer.find(b"\n", position)
            if newline < 0:
                break
            self._line(bytes(self._buffer[position : newline + 1]))
            position = newline + 1
        del self._buffer[:position]

    def close(self) -> None:
        if self._buffer and not self._in_copy:
            self._line(bytes(self._buffer))
            self._buffer.clear()
        if self._in_copy:
            raise JobError("the SQL dump ends inside COPY data: the artifact is truncated")
        if self._lexer.code or self._lexer.state is not _State.NORMAL:
            raise JobError("the SQL dump ends inside a statement: the artifact is truncated")
        if self._statement:
            self._sink(bytes(self._statement))
            self._statement.clear()

    def _copy_data(self, position: int) -> tuple[int, bool]:
        """Pass COPY rows on; returns (new position, whether the COPY block ended)."""
        buffer = self._buffer
        if self._copy_mid_line:
            newline = buffer.find(b"\n", position)
            end = newline + 1 if newline >= 0 else len(buffer)
            self._sink(bytes(buffer[position:end]))
            self._copy_mid_line = newline < 0
            if newline < 0:
                return end, False
            position = end
        if buffer.startswith(_COPY_TERMINATOR, position):
            end = position + len(_COPY_TERMINATOR)
        else:
            found = buffer.find(b"\n" + _COPY_TERMINATOR, position)
            end = found + 1 + len(_COPY_TERMINATOR) if found >= 0 else -1
        if end >= 0:
            self._sink(bytes(buffer[position:end]))
            self._in_copy = False
            return end, True
        # No terminator yet: pass whole lines, and a partial last line unless it could
        # still become the terminator.
        last_newline = buffer.rfind(b"\n", position)
        flush_to = last_newline + 1 if last_newline >= 0 else position
        tail = bytes(buffer[flush_to:])
        if tail and not _COPY_TERMINATOR.startswith(tail):
            flush_to = len(buffer)
            self._copy_mid_line = True
        if flush_to > position:
            self._sink(bytes(buffer[position:flush_to]))
        return flush_to, False

    def _line(self, line: bytes) -> None:
        if not self._statement and self._lexer.state is _State.NORMAL:
            stripped = line.strip()
            if not stripped or stripped.startswith(b"--"):
                if stripped == COMPLETION_MARKER:
                    self.complete = True
                self._sink(line)
                return
            if stripped.startswith(b"\\"):
                command = stripped.split(None, 1)[0]
                if command not in _ALLOWED_META_COMMANDS:
                    shown = command[:40].decode("utf-8", "replace")
                    raise JobError(
                        f"the SQL dump contains the psql meta-command {shown!r}; only plain "
                        "pg_dump output (without --create) can be restored"
                    )
                self._sink(line)
                return
        start = 0
        for end in self._lexer.scan(line):
            self._statement += line[start:end]
            start = end
            statement = bytes(self._statement)
            self._statement.clear()
            if self._emit(statement):  # COPY: the rest of this line and on is data
                self._sink(line[start:])
                return
        self._statement += line[start:]
        if not self._lexer.code and self._lexer.state is _State.NORMAL:
            self._sink(bytes(self._statement))
            self._statement.clear()

    def _emit(self, statement: bytes) -> bool:
        """Pass or drop one statement; True when it starts COPY data."""
        self.statements += 1
        self.complete = False
        head = _head(statement.lstrip())
        for prefix, name in _DROPPED_HEADS:
            if head.startswith(prefix):
                self.dropped[name] += 1
                return False
        if head.startswith(b"ALTER ") and _OWNER_TO.match(statement):
            self.dropped["ALTER ... OWNER TO"] += 1
            return False
        if head.startswith(_REFUSED_HEADS):
            raise JobError(
                "the SQL dump creates, alters or drops a database (made with pg_dump "
                "--create?); only dumps of a single database's contents can be restored"
            )
        self._sink(statement)
        if head.startswith(b"COPY ") and _COPY_FROM_STDIN.match(statement):
            self._in_copy = True
            return True
        return False

"""PostgreSQL for the job runner: client tools, version check, admin connection, quoting.

Guarantees:
- The server is reached with the standard libpq variables only (PGHOST, PGPORT, PGUSER,
  PGPASSWORD, PGSSLMODE, ...), by asyncpg and by the client tools alike; a database name
  goes to the tools as PGDATABASE, never as an argument libpq could read as a
  connection string.
- `require_tools` refuses, with one clear line, client tools whose major version is
  older than the server's `server_version_num` (pg_dump cannot dump a newer server, and
  a newer dump may use syntax an older psql/pg_restore do not know).
- `quote_identifier` is the only way a name reaches SQL text; everything else is a
  bind parameter.
- Connection failures become a `JobError` naming the host, port, role and database,
  never the password.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import asyncpg

from odoo_operator.runner.errors import JobError

MAX_IDENTIFIER_BYTES = 63
CONNECT_TIMEOUT = 30.0
APPLICATION_NAME = "odoo-operator-job"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def quote_identifier(name: str) -> str:
    """A PostgreSQL identifier in double quotes, embedded quotes doubled."""
    if "\x00" in name:
        raise JobError("a PostgreSQL name cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def check_database_name(name: str, flag: str = "--database") -> str:
    if not name:
        raise JobError(f"{flag} must not be empty")
    if "\x00" in name:
        raise JobError(f"{flag} must not contain a NUL character")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise JobError(f"{flag} {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return name


def version_number(major: int, minor: int, patch: int | None = None) -> int:
    """server_version_num encoding: 15.4 → 150004, 9.6.24 → 90624."""
    if major >= 10:
        return major * 10000 + minor
    return major * 10000 + minor * 100 + (patch or 0)


def major_of(version_num: int) -> int:
    """Comparable major version: 15 → 1500, 9.6 → 906."""
    return version_num // 10000 * 100 if version_num >= 100000 else version_num // 100


def version_text(version_num: int) -> str:
    if version_num >= 100000:
        return f"{version_num // 10000}.{version_num % 10000}"
    return f"{version_num // 10000}.{version_num // 100 % 100}.{version_num % 100}"


@dataclass(frozen=True)
class ClientTool:
    name: str
    path: str
    version_num: int


def find_tool(name: str) -> ClientTool:
    """Locate a client tool on PATH and read its version from `--version`."""
    path = shutil.which(name)
    if path is None:
        raise JobError(f"{name} is not installed (not found on PATH)")
    result = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise JobError(f"cannot tell the version of {path} (`{name} --version` failed)")
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return ClientTool(name, path, version_number(major, minor, patch))


def require_tools(tools: list[ClientTool], server_version_num: int) -> None:
    for tool in tools:
        if major_of(tool.version_num) < major_of(server_version_num):
            raise JobError(
                f"{tool.name} {version_text(tool.version_num)} is older than the PostgreSQL "
                f"server ({version_text(server_version_num)}): use client tools of version "
                f"{version_text(server_version_num).split('.')[0]} or newer"
            )


def _where(database: str) -> str:
    host = os.environ.get("PGHOST", "the default socket")
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "the current user")
    return f"database {database!r} on {host}:{port} as role {user!r}"


async def _open(database: str) -> Any:
    return await asyncpg.connect(
        database=database,
        timeout=CONNECT_TIMEOUT,
        server_settings={"application_name": APPLICATION_NAME},
    )


def _explain(error: BaseException, database: str) -> JobError:
    if isinstance(error, asyncpg.InvalidPasswordError):
        return JobError(f"PostgreSQL rejected the password for {_where(database)}")
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return JobError(f"PostgreSQL has no {_where(database)}")
    if isinstance(error, asyncpg.PostgresError):
        return JobError(f"PostgreSQL refused {_where(database)}: {error}")
    return JobError(f"cannot reach PostgreSQL for {_where(database)}: {error}")


_CONNECT_ERRORS = (asyncpg.PostgresError, OSError, TimeoutError)


async def connect(database: str) -> Any:
    """An asyncpg connection to `database`, configured from the libpq environment."""
    try:
        return await _open(database)
    except _CONNECT_ERRORS as error:
        raise _explain(error, database) from None


async def connect_maintenance() -> Any:
    """A connection for database-level statements: to `postgres`, else `template1`."""
    try:
        return await _open("postgres")
    except asyncpg.InvalidCatalogNameError:
        return await connect("template1")
    except _CONNECT_ERRORS as error:
        raise _explain(error, "postgres") from None


async def server_version_num(connection: Any) -> int:
    return int(await connection.fetchval("SELECT current_setting('server_version_num')"))


def tool_environment(database: str) -> dict[str, str]:
    """The environment for a client tool working on `database`."""
    environment = dict(os.environ)
    environment["PGDATABASE"] = database
    environment["PGAPPNAME"] = APPLICATION_NAME
    return environment


def first_error_line(stderr: bytes, fallback: str) -> str:
    """The most telling line of a tool's stderr (its first ERROR/FATAL, else the last)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "ERROR:" in line or "FATAL:" in line or "error:" in line:
            return line[:500]
    return lines[-1][:500] if lines else fallback

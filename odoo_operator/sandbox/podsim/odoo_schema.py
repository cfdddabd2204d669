"""The simulated Odoo's database work: a small Odoo-shaped schema on the real PostgreSQL.

Enough of Odoo's schema that backups move real rows and a zip's manifest lists real
modules (the runner reads `ir_module_module`: `name`, `state = 'installed'`,
`latest_version`, base's giving the series):

- `ir_module_module` (name, state, latest_version): `base` at `<series>.1.3`, other
  modules at `<series>.1.0` when installed; an update adds 1 to the last part;
- `ir_config_parameter` (key, value): `database.uuid`, `database.create_date`,
  `database.secret`, later `database.is_neutralized`;
- `res_users` (login, active) with `admin`; `ir_attachment` with one stored file,
  written to `<data_dir>/filestore/<db>/` as Odoo stores attachments.

Everything runs as the odoo.conf's role, so the database belongs to it as it would on a
cluster. Identifiers are quoted and values passed as parameters. PostgreSQL errors
become `SimulationError` with PostgreSQL's message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS ir_module_module (
    id serial PRIMARY KEY,
    name varchar NOT NULL UNIQUE,
    state varchar NOT NULL,
    latest_version varchar,
    write_date timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE TABLE IF NOT EXISTS ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar NOT NULL UNIQUE,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS res_users (
    id serial PRIMARY KEY,
    login varchar NOT NULL UNIQUE,
    active boolean NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS ir_attachment (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    store_fname varchar UNIQUE,
    checksum varchar,
    file_size integer
);
"""
ATTACHMENT = b"A file Odoo would keep in its filestore (written by the simulated Odoo).\n"


class SimulationError(Exception):
    """The simulated step failed; the message is Odoo's kind of complaint."""


@dataclass(frozen=True)
class Settings:
    """Where the database is and who connects (from odoo.conf and the command line)."""

    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: str | None


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bumped(version: str) -> str:
    """`17.0.1.3` -> `17.0.1.4`."""
    head, _, last = version.rpartition(".")
    return f"{head}.{int(last) + 1}" if last.isdigit() else f"{version}.1"


class Database:
    def __init__(self, settings: Settings, series: str, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.series = series
        self.say = say

    @asynccontextmanager
    async def _connect(self, database: str) -> AsyncIterator[Any]:
        s = self.settings
        try:
            connection = await asyncpg.connect(
                host=s.host, port=s.port, user=s.user, password=s.password, database=database
            )
        except asyncpg.InvalidCatalogNameError:
            raise SimulationError(f"database {database!r} does not exist") from None
        except (OSError, asyncpg.PostgresError) as error:
            raise SimulationError(
                f"cannot connect to {s.host}:{s.port} as {s.user}: {error}"
            ) from None
        try:
            yield connection
        except asyncpg.PostgresError as error:
            raise SimulationError(f"database {database!r}: {error}") from None
        finally:
            await connection.close()

    async def _create_database(self) -> None:
        name = self.settings.database
        async with self._connect("postgres") as connection:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if exists:
                return
            await connection.execute(
                f"CREATE DATABASE {quote_identifier(name)} "
                "ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE template0"
            )
        self.say(f"database {name!r} created")

    async def _initialized(self, connection: Any) -> bool:
        found = await connection.fetchval("SELECT to_regclass('ir_module_module') IS NOT NULL")
        return bool(found)

    async def install(self, modules: Sequence[str]) -> None:
        """`-i`: the database (created if missing) with `base` and `modules` installed."""
        await self._create_database()
        wanted = ["base", *(m for m in modules if m != "base")]
        async with self._connect(self.settings.database) as connection, connection.transaction():
            await connection.execute(SCHEMA)
            await self._install(connection, wanted)
            await self._seed(connection)
        self._write_filestore()

    async def _install(self, connection: Any, modules: Sequence[str]) -> None:
        for module in modules:
            version = f"{self.series}.1.3" if module == "base" else f"{self.series}.1.0"
            await connection.execute(
                "INSERT INTO ir_module_module (name, state, latest_version) "
                "VALUES ($1, 'installed', $2) "
                "ON CONFLICT (name) DO UPDATE SET state = 'installed'",
                module,
                version,
            )
        self.say(f"modules installed: {', '.join(modules)}")

    async def _seed(self, connection: Any) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        parameters = {
            "database.uuid": str(uuid.uuid4()),
            "database.create_date": now,
            "database.secret": secrets.token_hex(16),
        }
        for key, value in parameters.items():
            await connection.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO NOTHING",
                key,
                value,
            )
        await connection.execute(
            "INSERT INTO res_users (login) VALUES ('admin') ON CONFLICT (login) DO NOTHING"
        )
        checksum = hashlib.sha1(ATTACHMENT).hexdigest()  # noqa: S324 - Odoo's own naming
        await connection.execute(
            "INSERT INTO ir_attachment (name, store_fname, checksum, file_size) "
            "VALUES ('sandbox.txt', $1, $2, $3) ON CONFLICT (store_fname) DO NOTHING",
            f"{checksum[:2]}/{checksum}",
            checksum,
            len(ATTACHMENT),
        )

    def _write_filestore(self) -> None:
        if self.settings.data_dir is None:
            self.say("no data_dir in odoo.conf: no filestore written")
            return
        checksum = hashlib.sha1(ATTACHMENT).hexdigest()  # noqa: S324 - Odoo's own naming
        target = (
            Path(self.settings.data_dir)
            / "filestore"
            / self.settings.database
            / checksum[:2]
            / checksum
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ATTACHMENT)
        self.say(f"filestore at {target.parent.parent}")

    async def upgrade(self, modules: Sequence[str], install: Sequence[str]) -> None:
        """`-u`: bump the installed modules named (`all`: every one), install `-i` ones."""
        async with self._connect(self.settings.database) as connection, connection.transaction():
            if not await self._initialized(connection):
                raise SimulationError(f"database {self.settings.database!r} is not initialized")
            installed = {
                row["name"]: row["latest_version"]
                for row in await connection.fetch(
                    "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
                )
            }
            names = (
                sorted(installed) if "all" in modules else [m for m in modules if m in installed]
            )
            for name in names:
                await connection.execute(
                    "UPDATE ir_module_module SET latest_version = $2, "
                    "write_date = now() AT TIME ZONE 'UTC' WHERE name = $1",
                    name,
                    bumped(installed[name]),
                )
            self.say(f"modules updated: {', '.join(names) or 'none'}")
            if install:
                await self._install(connection, install)

    async def neutralize(self) -> None:
        async with self._connect(self.settings.database) as connection:
            if not await self._initialized(connection):
                raise SimulationError(f"database {self.settings.database!r} is not initialized")
            await connection.execute(
                "INSERT INTO ir_config_parameter (key, value) "
                "VALUES ('database.is_neutralized', 'True') "
                "ON CONFLICT (key) DO UPDATE SET value = 'True'"
            )
        self.say(f"database {self.settings.database!r} neutralized")

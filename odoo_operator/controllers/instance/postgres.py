"""PostgreSQL administration for instances (SPEC §5), with asyncpg.

Guarantees:
- one small connection pool per cluster (at most `POOL_SIZE` connections, opened on
  demand), reused across reconciles; a cluster whose settings changed gets a new pool and
  the old one is closed; `stop()` closes them all (the manager calls it at shutdown);
- `ensure_role` leaves the role `LOGIN CREATEDB` with the Secret's password. It creates
  the role when missing (and makes the admin a member of it, so that the admin can later
  drop the database Odoo creates as that role); for an existing role it logs in as the
  role once per process and password, and ALTERs the password only when that login is
  refused for a wrong password;
- the password reaches the server only as a SCRAM-SHA-256 verifier computed here: no
  statement, server log or `pg_stat_activity` ever shows it;
- every identifier and literal goes through PostgreSQL's own `format('%I', '%L')`; no
  name is ever pasted into SQL text by this module;
- `drop_instance` ends every session of the role or on its databases, drops the database,
  the leftover temporary and previous databases of an interrupted restore of it (the
  runner's naming, `runner.swap`), then the role; each step is `IF EXISTS`, so a retry
  after a partial failure finishes the job;
- every failure is a `PostgresError` whose message names the cluster, its address and
  what failed, never a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, Protocol

import asyncpg
import structlog

from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.database_drop import drop_with_force
from odoo_operator.database_names import working_database_patterns

_log = structlog.get_logger(__name__)

POOL_SIZE = 4
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 30.0
ADMIN_DATABASE = "postgres"
_SCRAM_ITERATIONS = 4096


class PostgresError(Exception):
    """A cluster could not be reached or refused an operation; the message says which."""


class DatabaseAdmin(Protocol):
    """What the reconciler needs from PostgreSQL (a seam for the benchmark's baseline)."""

    async def ensure_role(self, cluster: Cluster, role: str, password: str) -> None: ...

    async def drop_instance(self, cluster: Cluster, role: str, database: str) -> None: ...


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _execute(connection: Any, template: str, *values: str) -> None:
    """Run `template` with each `%I`/`%L` filled by PostgreSQL's own quoting."""
    statement = await connection.fetchval(
        "SELECT format($1, VARIADIC $2::text[])", template, list(values)
    )
    await connection.execute(statement)


class PostgresAdmin:
    """The operator's PostgreSQL administration, one pool per cluster."""

    def __init__(self) -> None:
        self._pools: dict[str, tuple[str, asyncpg.Pool]] = {}
        self._verified: set[tuple[str, str, str]] = set()

    async def start(self) -> None:
        """Nothing to do: pools open on first use."""

    async def stop(self) -> None:
        pools = [pool for _, pool in self._pools.values()]
        self._pools.clear()
        for pool in pools:
            await pool.close()

    async def _pool(self, cluster: Cluster) -> asyncpg.Pool:
        known = self._pools.get(cluster.name)
        if known is not None and known[0] == cluster.fingerprint:
            return known[1]
        pool = asyncpg.create_pool(
            host=cluster.host,
            port=cluster.port,
            user=cluster.admin_user,
            password=cluster.admin_password,
            database=ADMIN_DATABASE,
            min_size=0,
            max_size=POOL_SIZE,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            server_settings={"application_name": "odoo-operator"},
        )
        await pool  # with min_size=0 this connects nothing yet
        self._pools[cluster.name] = (cluster.fingerprint, pool)
        if known is not None:
            await known[1].close()
        return pool

    def _failure(self, cluster: Cluster, action: str, error: BaseException) -> PostgresError:
        return PostgresError(
            f"PostgreSQL cluster {cluster.name} ({cluster.address}): {action} failed: "
            f"{_describe(error)}"
        )

    async def ensure_role(self, cluster: Cluster, role: str, password: str) -> None:
        digest = hashlib.sha256(password.encode()).hexdigest()
        memo = (cluster.fingerprint, role, digest)
        if memo in self._verified:
            return
        try:
            pool = await self._pool(cluster)
            async with pool.acquire() as connection:
                row = await connection.fetchrow(
                    "SELECT rolcanlogin, rolcreatedb FROM pg_roles WHERE rolname = $1", role
                )
                if row is None:
                    await _execute(
                        connection,
                        "CREATE ROLE %I WITH LOGIN CREATEDB PASSWORD %L",
                        role,
                        scram_verifier(password),
                    )
                    await _execute(connection, "GRANT %I TO CURRENT_USER", role)
                    _log.info("role created", cluster=cluster.name, role=role)
                elif not (row["rolcanlogin"] and row["rolcreatedb"]) or not await self._logs_in(
                    cluster, role, password
                ):
                    await _execute(
                        connection,
                        "ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L",
                        role,
                        scram_verifier(password),
                    )
                    _log.info("role password reset", cluster=cluster.name, role=role)
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError) as error:
            raise self._failure(cluster, f"ensuring role {role}", error) from error
        self._verified.add(memo)

    async def _logs_in(self, cluster: Cluster, role: str, password: str) -> bool:
        """False only when the server refuses the password; other refusals count as in."""
        try:
            connection = await asyncpg.connect(
                host=cluster.host,
                port=cluster.port,
                user=role,
                password=password,
                database=ADMIN_DATABASE,
                timeout=CONNECT_TIMEOUT,
            )
        except asyncpg.InvalidPasswordError:
            return False
        except asyncpg.PostgresError as error:
            _log.info(
                "cannot check the role's password; keeping it", role=role, error=_describe(error)
            )
            return True
        await connection.close()
        return True

    async def drop_instance(self, cluster: Cluster, role: str, database: str) -> None:
        try:
            pool = await self._pool(cluster)
            async with pool.acquire() as connection:
                leftovers = await connection.fetch(
                    "SELECT datname FROM pg_database WHERE datname LIKE ANY($1::text[])",
                    list(working_database_patterns(database)),
                )
                databases = [database, *(row["datname"] for row in leftovers)]
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE (datname = ANY($1::text[]) OR usename = $2) AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'",  # DROP DATABASE ends autovacuum itself
                    databases,
                    role,
                )
                version = int(await connection.fetchval("SHOW server_version_num"))
                for name in databases:
                    if not await drop_with_force(connection, name, version):
                        await _execute(connection, "DROP DATABASE IF EXISTS %I", name)
                await _execute(connection, "DROP ROLE IF EXISTS %I", role)
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError) as error:
            raise self._failure(
                cluster, f"dropping database {database} and role {role}", error
            ) from error
        self._verified = {memo for memo in self._verified if memo[1] != role}
        _log.info("database and role dropped", cluster=cluster.name, role=role, database=database)

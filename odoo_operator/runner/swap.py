"""Put a restored database and filestore in place of the old ones, or put everything back.

Every name of one restore attempt derives from the target and a random attempt id:

| what | name |
|---|---|
| temporary database | `odoo_restore_<h>_<id>` (h: 10 hex digits of sha256(target)) |
| previous database | `odoo_previous_<h>_<id>` |
| temporary filestore | `<parent>/.<name>.restore-<id>` |
| previous filestore | `<parent>/.<name>.previous-<id>` |

`swap_in` (after a load that fully succeeded):
1. filestore: target → previous (an empty one stands in if there was none), temporary →
   target; both renames inside one directory, so each is atomic;
2. database: if the target takes connections, mark the attempt as the one that forbids
   them (the temporary database, no longer needed by anyone, stops taking connections),
   then forbid new connections to the target; end its sessions, rename it to previous;
3. in one transaction, let the temporary database take connections and rename it to the
   target: **the commit point**;
4. drop the previous database `WITH (FORCE)` and delete the previous filestore.
A failure before the commit point undoes the steps done, in reverse: the target
database (with its connection setting) and filestore are back exactly as they were.

`recover` (at the start of every restore of a target) settles what an interrupted
attempt (SIGKILL, lost node) left behind: while its temporary database exists it never
committed, so previous database and filestore go back in place, and the target takes
connections again if the attempt's mark says it forbade them; otherwise it committed
and the previous ones are deleted. Temporaries are always removed.

`pausepoints` names the state after each step, so tests interrupt the runner there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

from odoo_operator.database_drop import drop_with_force
from odoo_operator.database_names import (
    RESTORE_PREVIOUS_PREFIX,
    RESTORE_TEMPORARY_PREFIX,
    restore_leftover_patterns,
    restore_target_hash,
)
from odoo_operator.runner import pausepoints
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.filestore import DIRECTORY_MODE, ODOO_GID, ODOO_UID
from odoo_operator.runner.pausepoints import pause
from odoo_operator.runner.pgtools import quote_identifier

_ATTEMPT = re.compile(r"^[0-9a-f]{8}$")
_RENAME_TRIES = 10


@dataclass(frozen=True)
class RestorePlan:
    target: str
    filestore: Path | None
    attempt: str

    @property
    def temporary_database(self) -> str:
        return f"{RESTORE_TEMPORARY_PREFIX}{restore_target_hash(self.target)}_{self.attempt}"

    @property
    def previous_database(self) -> str:
        return f"{RESTORE_PREVIOUS_PREFIX}{restore_target_hash(self.target)}_{self.attempt}"

    def _sibling(self, kind: str) -> Path:
        assert self.filestore is not None
        return self.filestore.parent / f".{self.filestore.name}.{kind}-{self.attempt}"

    @property
    def temporary_filestore(self) -> Path:
        return self._sibling("restore")

    @property
    def previous_filestore(self) -> Path:
        return self._sibling("previous")


class Admin:
    """Database-level statements on the maintenance connection."""

    def __init__(self, connection: Any, server_version_num: int) -> None:
        self.connection = connection
        self.server_version_num = server_version_num

    async def exists(self, name: str) -> bool:
        return bool(
            await self.connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        )

    async def allows_connections(self, name: str) -> bool:
        return bool(
            await self.connection.fetchval(
                "SELECT datallowconn FROM pg_database WHERE datname = $1", name
            )
        )

    async def create(self, name: str) -> None:
        # As Odoo creates its databases: UTF8 from template0 with C collation.
        await self.connection.execute(
            f"CREATE DATABASE {quote_identifier(name)} "
            "WITH TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"
        )

    async def drop(self, name: str) -> None:
        """Drop `name` `WITH (FORCE)`, else plainly after ending the sessions this role may
        end, retried while others linger (`database_drop` says why)."""
        if await drop_with_force(self.connection, name, self.server_version_num):
            return
        statement = f"DROP DATABASE IF EXISTS {quote_identifier(name)}"
        await self._end_sessions_then(name, partial(self.connection.execute, statement))

    async def allow_connections(self, name: str, allowed: bool) -> None:
        await self.connection.execute(
            f"ALTER DATABASE {quote_identifier(name)} ALLOW_CONNECTIONS {str(allowed).lower()}"
        )

    async def end_sessions(self, name: str) -> None:
        """Terminate the sessions on `name` this role may end; others stay."""
        pids = await self.connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'",  # DROP DATABASE ends autovacuum itself
            name,
        )
        for row in pids:
            try:
                await self.connection.execute("SELECT pg_terminate_backend($1)", row["pid"])
            except asyncpg.InsufficientPrivilegeError:
                continue

    async def rename(self, old: str, new: str, *, open_it: bool = False) -> None:
        """Rename, ending sessions on `old` first; retried while sessions linger.

        With `open_it`, the database also takes connections again, in the same transaction.
        """
        statements = [f"ALTER DATABASE {quote_identifier(old)} RENAME TO {quote_identifier(new)}"]
        if open_it:
            statements.insert(0, f"ALTER DATABASE {quote_identifier(old)} ALLOW_CONNECTIONS true")

        async def rename_in_one_transaction() -> None:
            async with self.connection.transaction():
                for statement in statements:
                    await self.connection.execute(statement)

        await self._end_sessions_then(old, rename_in_one_transaction)

    async def _end_sessions_then(self, name: str, act: Callable[[], Awaitable[Any]]) -> None:
        """`act` after ending the sessions on `name`; retried while sessions linger, then a
        JobError naming what helps."""
        for attempt in range(_RENAME_TRIES):
            await self.end_sessions(name)
            try:
                await act()
                return
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.2 * (attempt + 1))
        raise JobError(
            f"database {name!r} is still in use by sessions this role cannot end "
            "(stop the Odoo pods, or grant the role pg_signal_backend)"
        )


def _sql_error(action: str, error: asyncpg.PostgresError) -> JobError:
    return JobError(f"cannot {action}: {error}")


async def swap_in(admin: Admin, plan: RestorePlan, log: Any) -> None:
    """Steps 1 to 4 above; on failure before the commit point everything is put back."""
    undo: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    try:
        if plan.filestore is not None:
            await _swap_filestore(plan, undo)
        if await admin.exists(plan.target):
            if await admin.allows_connections(plan.target):
                await admin.allow_connections(plan.temporary_database, False)  # the mark
                await admin.allow_connections(plan.target, False)
                undo.append(
                    ("allow connections", lambda: admin.allow_connections(plan.target, True))
                )
            await pause(pausepoints.CONNECTIONS_FORBIDDEN)
            await admin.rename(plan.target, plan.previous_database)
            undo.append(
                (
                    "rename the database back",
                    lambda: admin.rename(plan.previous_database, plan.target),
                )
            )
            await pause(pausepoints.DATABASE_ASIDE)
        await admin.rename(plan.temporary_database, plan.target, open_it=True)
    except BaseException as error:
        for step, action in reversed(undo):
            try:
                await action()
            except Exception as undo_error:
                log.error("restore.undo_failed", step=step, error=str(undo_error))
        if isinstance(error, asyncpg.PostgresError):
            raise _sql_error(f"swap in the restored database {plan.target!r}", error) from None
        raise
    try:
        await pause(pausepoints.COMMITTED)
        await _drop_previous_database(admin, plan, log)
        await pause(pausepoints.PREVIOUS_DROPPED)
        await _remove_previous_filestore(plan)
    except asyncio.CancelledError:
        # Committed: a stop request now only leaves leftovers that `recover` removes.
        log.warning("restore.leftover", database=plan.previous_database, reason="stopped")


async def _swap_filestore(plan: RestorePlan, undo: list[Any]) -> None:
    target = plan.filestore
    assert target is not None
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.mkdir(mode=DIRECTORY_MODE)
        _own(target)
        undo.append(("remove the empty filestore", lambda: _run(target.rmdir)))
    os.rename(target, plan.previous_filestore)
    undo.append(
        (
            "put the filestore back",
            lambda: _run(os.rename, plan.previous_filestore, target),
        )
    )
    await pause(pausepoints.FILESTORE_ASIDE)
    os.rename(plan.temporary_filestore, target)
    undo.append(
        (
            "take the restored filestore out",
            lambda: _run(os.rename, target, plan.temporary_filestore),
        )
    )
    await pause(pausepoints.FILESTORE_IN)


async def _run(function: Callable[..., object], *args: Any) -> None:
    function(*args)


def _own(path: Path) -> None:
    with contextlib.suppress(PermissionError):
        os.chown(path, ODOO_UID, ODOO_GID)


async def _drop_previous_database(admin: Admin, plan: RestorePlan, log: Any) -> None:
    """After the commit point: a failure only leaves a leftover that `recover` removes."""
    try:
        await admin.drop(plan.previous_database)
    except asyncpg.PostgresError as error:
        log.warning("restore.leftover", database=plan.previous_database, error=str(error))


async def _remove_previous_filestore(plan: RestorePlan) -> None:
    if plan.filestore is not None and plan.previous_filestore.exists():
        await asyncio.to_thread(shutil.rmtree, plan.previous_filestore, True)


async def discard_attempt(admin: Admin, plan: RestorePlan, log: Any) -> None:
    """Remove the temporaries of an attempt that did not commit."""
    try:
        await admin.drop(plan.temporary_database)
    except (asyncpg.PostgresError, OSError) as error:
        log.error("restore.leftover", database=plan.temporary_database, error=str(error))
    if plan.filestore is not None and plan.temporary_filestore.exists():
        await asyncio.to_thread(shutil.rmtree, plan.temporary_filestore, True)


async def _leftover_attempts(admin: Admin, target: str, filestore: Path | None) -> set[str]:
    attempts: set[str] = set()
    rows = await admin.connection.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2",
        *restore_leftover_patterns(target),
    )
    for row in rows:
        attempts.add(row["datname"].rsplit("_", 1)[1])
    if filestore is not None and filestore.parent.is_dir():
        for kind in ("restore", "previous"):
            for path in filestore.parent.glob(f".{filestore.name}.{kind}-*"):
                attempts.add(path.name.rsplit("-", 1)[1])
    return {attempt for attempt in attempts if _ATTEMPT.match(attempt)}


async def recover(admin: Admin, target: str, filestore: Path | None, log: Any) -> None:
    """Settle every interrupted attempt on `target` (see the module docstring)."""
    for attempt in sorted(await _leftover_attempts(admin, target, filestore)):
        plan = RestorePlan(target, filestore, attempt)
        committed = not await admin.exists(plan.temporary_database)
        if not committed:
            # The mark of step 2: the attempt forbade connections to the target.
            forbade = not await admin.allows_connections(plan.temporary_database)
            await _put_back(admin, plan, forbade)
            await discard_attempt(admin, plan, log)
        else:
            await _drop_previous_database(admin, plan, log)
            await _remove_previous_filestore(plan)
            if filestore is not None and plan.temporary_filestore.exists():
                await asyncio.to_thread(shutil.rmtree, plan.temporary_filestore, True)
        log.warning("restore.recovered", attempt=attempt, committed=committed)


async def _put_back(admin: Admin, plan: RestorePlan, forbade_connections: bool) -> None:
    try:
        if await admin.exists(plan.previous_database):
            if await admin.exists(plan.target):
                raise JobError(
                    f"an interrupted restore left both {plan.target!r} and "
                    f"{plan.previous_database!r}; check which one to keep and drop the other"
                )
            await admin.rename(plan.previous_database, plan.target)
        if forbade_connections and await admin.exists(plan.target):
            await admin.allow_connections(plan.target, True)
    except asyncpg.PostgresError as error:
        action = f"put database {plan.target!r} back after an interrupted restore"
        raise _sql_error(action, error) from None
    if plan.filestore is not None and plan.previous_filestore.exists():
        if plan.filestore.exists():
            if plan.temporary_filestore.exists():
                raise JobError(
                    f"an interrupted restore left {plan.filestore}, "
                    f"{plan.previous_filestore} and {plan.temporary_filestore}; "
                    "check which one to keep and remove the others"
                )
            os.rename(plan.filestore, plan.temporary_filestore)
        os.rename(plan.previous_filestore, plan.filestore)

"""An interrupted swap is settled by the next restore: old state or new state, never a mix.

The runner is killed (SIGKILL, a lost node) after each step of the swap protocol in turn;
`recover` must then leave the target exactly as before the swap when the commit point
(renaming the temporary database to the target) was not reached, and exactly as after
it when it was, with no temporary or previous database or filestore left.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import asyncpg
import pytest

from odoo_operator.runner.pgtools import quote_identifier
from odoo_operator.runner.swap import Admin, RestorePlan, recover, swap_in
from tests.runner.conftest import World, tree_fingerprint


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _record(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    info = warning = error = _record


async def admin(world: World) -> Admin:
    connection = await asyncpg.connect(
        host=world.pg.host,
        port=world.pg.port,
        user=world.role,
        password=world.role_password,
        database="postgres",
    )
    version = int(await connection.fetchval("SHOW server_version_num"))
    return Admin(connection, version)


def marker(world: World, database: str) -> str:
    return world.admin_sql("SELECT value FROM marker", database)


async def prepare(world: World, plan: RestorePlan) -> None:
    """The target (old data) and a fully loaded attempt (new data), as before the swap."""
    assert plan.filestore is not None
    for database, value in ((plan.target, "old"), (plan.temporary_database, "new")):
        owner = quote_identifier(world.role)
        world.admin_sql(f"CREATE DATABASE {quote_identifier(database)} OWNER {owner}")
        world.role_sql(database, f"CREATE TABLE marker AS SELECT '{value}'::text AS value")
    for root, value in ((plan.filestore, "old"), (plan.temporary_filestore, "new")):
        (root / "ab").mkdir(parents=True)
        (root / "ab" / value).write_text(value)


async def swap_steps(admin: Admin, plan: RestorePlan) -> list[Any]:
    """The swap protocol of `swap.swap_in`, one callable per step, in its order."""
    assert plan.filestore is not None
    target_fs = plan.filestore

    async def previous_filestore() -> None:
        os.rename(target_fs, plan.previous_filestore)

    async def restored_filestore() -> None:
        os.rename(plan.temporary_filestore, target_fs)

    async def previous_database() -> None:
        await admin.allow_connections(plan.target, False)
        await admin.rename(plan.target, plan.previous_database)

    async def commit() -> None:
        await admin.rename(plan.temporary_database, plan.target)

    async def drop_previous() -> None:
        await admin.drop(plan.previous_database)

    return [previous_filestore, restored_filestore, previous_database, commit, drop_previous]


@pytest.mark.parametrize("steps_done", [0, 1, 2, 3, 4, 5])
async def test_recover_after_a_crash_at_every_step(world: World, steps_done: int) -> None:
    plan = RestorePlan("app", world.tmp / "data" / "filestore" / "app", "0123abcd")
    await prepare(world, plan)
    old_files = tree_fingerprint(plan.filestore, detailed=True)  # type: ignore[arg-type]
    new_files = tree_fingerprint(plan.temporary_filestore, detailed=True)
    manager = await admin(world)
    try:
        for step in (await swap_steps(manager, plan))[:steps_done]:
            await step()
        log = Recorder()
        await recover(manager, "app", plan.filestore, log)
    finally:
        await manager.connection.close()

    committed = steps_done >= 4
    assert marker(world, "app") == ("new" if committed else "old")
    assert tree_fingerprint(plan.filestore, detailed=True) == (  # type: ignore[arg-type]
        new_files if committed else old_files
    )
    assert (
        world.admin_sql(
            "SELECT datallowconn FROM pg_database WHERE datname = current_database()", "app"
        )
        == "t"
    )
    assert world.leftovers(plan.filestore) == []
    assert log.events == [("restore.recovered", {"attempt": "0123abcd", "committed": committed})]


async def test_a_failed_swap_puts_everything_back(world: World) -> None:
    """swap_in itself: the commit rename fails (a name clash), every step is undone."""
    plan = RestorePlan("app", world.tmp / "data" / "filestore" / "app", "89abcdef")
    await prepare(world, plan)
    assert plan.filestore is not None
    world.admin_sql("ALTER DATABASE app ALLOW_CONNECTIONS false")  # kept exactly as it was
    old_files = tree_fingerprint(plan.filestore, detailed=True)
    manager = await admin(world)
    original_rename = manager.rename

    async def failing_commit(old: str, new: str) -> None:
        if old == plan.temporary_database:
            raise asyncpg.DuplicateDatabaseError("simulated failure at the commit point")
        await original_rename(old, new)

    manager.rename = failing_commit  # type: ignore[method-assign]
    try:
        with pytest.raises(Exception, match="simulated failure"):
            await swap_in(manager, plan, Recorder())
    finally:
        await manager.connection.close()
    assert world.admin_sql("SELECT datallowconn FROM pg_database WHERE datname = 'app'") == "f"
    world.admin_sql("ALTER DATABASE app ALLOW_CONNECTIONS true")
    assert marker(world, "app") == "old"
    assert tree_fingerprint(plan.filestore, detailed=True) == old_files
    assert marker(world, plan.temporary_database) == "new"  # discarded by the caller
    assert sorted(p.name for p in plan.filestore.parent.iterdir()) == [
        plan.temporary_filestore.name,
        "app",
    ]
    shutil.rmtree(plan.temporary_filestore)

"""A swap that fails before its commit point puts everything back as it was.

Stopping the real runner at each step of the swap is tested in test_interruptions.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from odoo_operator.runner.pgtools import quote_identifier
from odoo_operator.runner.swap import Admin, RestorePlan, swap_in
from tests.runner.conftest import World, tree_fingerprint, wait_for


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


async def test_a_failed_swap_puts_everything_back(world: World) -> None:
    """swap_in itself: the commit rename fails (a name clash), every step is undone."""
    plan = RestorePlan("app", world.tmp / "data" / "filestore" / "app", "89abcdef")
    await prepare(world, plan)
    assert plan.filestore is not None
    world.admin_sql("ALTER DATABASE app ALLOW_CONNECTIONS false")  # kept exactly as it was
    old_files = tree_fingerprint(plan.filestore, detailed=True)
    manager = await admin(world)
    original_rename = manager.rename

    async def failing_commit(old: str, new: str, *, open_it: bool = False) -> None:
        if old == plan.temporary_database:
            raise asyncpg.DuplicateDatabaseError("simulated failure at the commit point")
        await original_rename(old, new, open_it=open_it)

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


@pytest.fixture
def busy_autovacuum(world: World) -> Iterator[str]:
    """A database of the role that an autovacuum worker is vacuuming (slowly) right now."""
    name = "vacuumed"
    world.admin_sql(f"CREATE DATABASE {name} OWNER {quote_identifier(world.role)}")
    world.role_sql(
        name,
        "CREATE TABLE t (i integer) WITH (autovacuum_vacuum_cost_delay = 100,"
        " autovacuum_vacuum_cost_limit = 1, autovacuum_vacuum_threshold = 0);"
        "INSERT INTO t SELECT generate_series(1, 200000); DELETE FROM t;",
    )
    world.admin_sql("ALTER SYSTEM SET autovacuum_naptime = 1; SELECT pg_reload_conf();")
    try:
        wait_for(
            lambda: (
                world.admin_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = 'vacuumed' AND backend_type = 'autovacuum worker'"
                )
                == "1"
            ),
            "an autovacuum worker on the database",
        )
        yield name
    finally:
        world.admin_sql("ALTER SYSTEM RESET autovacuum_naptime; SELECT pg_reload_conf();")


async def test_a_database_autovacuum_is_working_on_is_dropped_all_the_same(
    world: World, busy_autovacuum: str
) -> None:
    """WITH (FORCE) refuses a role that may not signal autovacuum; the drop still happens."""
    maintenance = await admin(world)
    try:
        await maintenance.drop(busy_autovacuum)
    finally:
        await maintenance.connection.close()
    assert busy_autovacuum not in world.databases()

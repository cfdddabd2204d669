"""Dropping a database that may still have sessions: one rule, two users.

The restore runner drops the databases a swap leaves behind; the instance finalizer
drops an instance's database. Both first try `DROP DATABASE ... WITH (FORCE)`
(PostgreSQL 13+), which ends the database's sessions itself. FORCE refuses outright
when any process on the database is one the admin may not signal, and PostgreSQL
counts an autovacuum worker (it has no role) as such for an admin that is not a
superuser: a database autovacuum is analysing right after a load could not be dropped.
A plain DROP DATABASE ends autovacuum workers itself, so each caller falls back to it,
after ending the client sessions it may end in its own way.

A leaf at the package's top, like `database_names`: it imports only asyncpg, so the
runner uses it inside Job pods.
"""

from __future__ import annotations

from typing import Any

import asyncpg

FORCE_DROP_SINCE = 130000  # server_version_num of PostgreSQL 13


async def drop_with_force(connection: Any, name: str, server_version_num: int) -> bool:
    """`DROP DATABASE IF EXISTS name WITH (FORCE)`; False when the caller must drop plainly.

    False on a server older than 13 and when FORCE is refused for lack of privilege.
    """
    if server_version_num < FORCE_DROP_SINCE:
        return False
    quoted = await connection.fetchval("SELECT quote_ident($1)", name)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    except asyncpg.InsufficientPrivilegeError:
        return False
    return True

"""The throwaway PostgreSQL: real roles, real databases, passwords that matter."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from odoo_operator.sandbox.postgres import PostgresServer


async def test_create_role_and_database_then_log_in(postgres_server: PostgresServer) -> None:
    role = f"odoo.t.{secrets.token_hex(3)}"  # dots need quoting, as real role names do
    password = secrets.token_urlsafe(16)
    database = f"db_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(postgres_server.dsn)
    try:
        quoted_role = await admin.fetchval("SELECT quote_ident($1)", role)
        literal = await admin.fetchval("SELECT quote_literal($1)", password)
        await admin.execute(f"CREATE ROLE {quoted_role} LOGIN CREATEDB PASSWORD {literal}")
        await admin.execute(f'CREATE DATABASE "{database}" OWNER {quoted_role}')
    finally:
        await admin.close()

    conn = await asyncpg.connect(
        host=postgres_server.host,
        port=postgres_server.port,
        user=role,
        password=password,
        database=database,
    )
    try:
        assert await conn.fetchval("SELECT current_user") == role
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (1)")
        assert await conn.fetchval("SELECT count(*) FROM t") == 1
    finally:
        await conn.close()

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=role,
            password="wrong",
            database=database,
        )

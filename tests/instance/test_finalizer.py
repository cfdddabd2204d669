"""Deleting an instance: pods stopped first, then its database and role really gone."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from kubernetes_asyncio.client import AppsV1Api, CoreV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.controllers.instance.postgres import PostgresAdmin
from odoo_operator.database_names import (
    RESTORE_TEMPORARY_PREFIX,
    VERIFY_SCRATCH_PREFIX,
    restore_target_hash,
)
from odoo_operator.sandbox.postgres import PostgresServer
from tests.instance.conftest import Operator, cluster_entry, running_instance, write_clusters
from tests.runtime.tcpproxy import TcpProxy


async def _admin(server: PostgresServer) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=server.host, port=server.port, user=server.user, password=server.password,
        database="postgres",
    )  # fmt: skip


async def _exists(server: PostgresServer, table: str, column: str, name: str) -> bool:
    connection = await _admin(server)
    try:
        query = f"SELECT 1 FROM {table} WHERE {column} = $1"  # noqa: S608 - test constants
        return await connection.fetchval(query, name) is not None
    finally:
        await connection.close()


async def _create_database_as(
    server: PostgresServer, role: str, password: str, name: str
) -> asyncpg.Connection:
    """What Odoo does on init: create the database as the instance's role; stay connected."""
    connection = await asyncpg.connect(
        host=server.host, port=server.port, user=role, password=password, database="postgres"
    )
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return await asyncpg.connect(
        host=server.host, port=server.port, user=role, password=password, database=name
    )


async def _gone(operator: Operator, name: str) -> None:
    for _ in range(300):
        try:
            await operator.get(name)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} still there")


async def _user_password(operator: Operator, name: str) -> str:
    secret = await CoreV1Api(operator.api).read_namespaced_secret(
        f"{name}-odoo-user", operator.namespace
    )
    return base64.b64decode(secret.data["password"]).decode()


async def test_delete_scales_down_then_drops_database_leftovers_and_role(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    obj = await running_instance(operator, "shop", {})
    role, database = f"odoo.{operator.namespace}.shop", obj["spec"]["database"]["name"]
    odoo = await _create_database_as(
        postgres_server, role, await _user_password(operator, "shop"), database
    )
    leftover = f"{RESTORE_TEMPORARY_PREFIX}{restore_target_hash(database)}_0123abcd"
    scratch = f"{VERIFY_SCRATCH_PREFIX}{restore_target_hash(database)}_0123abcd"
    admin = await _admin(postgres_server)
    await admin.execute(f'CREATE DATABASE "{leftover}"')
    await admin.execute(f'CREATE DATABASE "{scratch}"')
    await admin.close()

    await operator.objects.delete_namespaced_custom_object(
        GROUP, VERSION, operator.namespace, "odooinstances", "shop"
    )
    await _gone(operator, "shop")
    assert odoo.is_closed() or not await _still_usable(odoo)
    assert not await _exists(postgres_server, "pg_database", "datname", database)
    assert not await _exists(postgres_server, "pg_database", "datname", leftover)
    assert not await _exists(postgres_server, "pg_database", "datname", scratch)
    assert not await _exists(postgres_server, "pg_roles", "rolname", role)
    apps = AppsV1Api(operator.api)
    for name in ("shop", "shop-cron"):
        assert (await apps.read_namespaced_deployment(name, operator.namespace)).spec.replicas == 0


async def _still_usable(connection: asyncpg.Connection) -> bool:
    try:
        await connection.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


async def test_cleanup_failure_keeps_the_finalizer_and_recovers(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    proxy = TcpProxy(postgres_server.port)
    await proxy.start()
    try:
        await write_clusters(
            operator.api,
            operator.settings.operator_namespace,
            {"main": cluster_entry(postgres_server, port=proxy.port)},
        )
        await operator.create("shop", {})
        await operator.wait_for_phase("shop", "Uninitialized")
        role = f"odoo.{operator.namespace}.shop"
        assert await _exists(postgres_server, "pg_roles", "rolname", role)
        proxy.refuse = True  # PostgreSQL "stopped": no new connection, open ones cut
        proxy.cut()
        await operator.objects.delete_namespaced_custom_object(
            GROUP, VERSION, operator.namespace, "odooinstances", "shop"
        )
        event = await operator.wait_for_event("CleanupFailed")
        assert event.type == "Warning"
        assert "dropping database" in event.note
        obj = await operator.get("shop")
        assert obj["metadata"]["finalizers"] == ["bemade.org/postgres-cleanup"]
        proxy.refuse = False  # back
        await _gone(operator, "shop")
        assert not await _exists(postgres_server, "pg_roles", "rolname", role)
    finally:
        await proxy.stop()


@pytest.fixture
async def limited_admin(postgres_server: PostgresServer) -> AsyncIterator[dict[str, Any]]:
    """A non-superuser admin with CREATEROLE CREATEDB (what managed PostgreSQL offers)."""
    name, password = f"admin_{secrets.token_hex(3)}", secrets.token_hex(16)
    connection = await _admin(postgres_server)
    await connection.execute(f"CREATE ROLE {name} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
    try:
        yield {"adminUser": name, "adminPassword": password}
    finally:
        await connection.close()


async def _initialized_under(
    operator: Operator, server: PostgresServer, admin: dict[str, Any], name: str
) -> tuple[str, str, asyncpg.Connection]:
    """Instance `name` on a cluster with `admin`; its role, database and a session on it."""
    await write_clusters(
        operator.api,
        operator.settings.operator_namespace,
        {"main": cluster_entry(server, **admin)},
    )
    await operator.create(name, {})
    obj = await operator.wait_for_phase(name, "Uninitialized")
    role, database = f"odoo.{operator.namespace}.{name}", obj["spec"]["database"]["name"]
    password = await _user_password(operator, name)
    return role, database, await _create_database_as(server, role, password, database)


async def test_a_createrole_admin_that_is_not_superuser_is_enough(
    operator: Operator, postgres_server: PostgresServer, limited_admin: dict[str, Any]
) -> None:
    role, database, odoo = await _initialized_under(
        operator, postgres_server, limited_admin, "shop"
    )
    await operator.objects.delete_namespaced_custom_object(
        GROUP, VERSION, operator.namespace, "odooinstances", "shop"
    )
    await _gone(operator, "shop")
    assert not await _still_usable(odoo)
    assert not await _exists(postgres_server, "pg_database", "datname", database)
    assert not await _exists(postgres_server, "pg_roles", "rolname", role)


async def _autovacuum_on(admin: asyncpg.Connection, database: str) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = $1 AND backend_type = 'autovacuum worker'"
    )
    return bool(await admin.fetchval(query, database))


async def test_a_limited_admin_drops_a_database_autovacuum_is_working_on(
    operator: Operator, postgres_server: PostgresServer, limited_admin: dict[str, Any]
) -> None:
    """A non-superuser admin may not signal autovacuum; the cleanup must not depend on it."""
    role, database, odoo = await _initialized_under(
        operator, postgres_server, limited_admin, "busy"
    )
    await odoo.execute(
        "CREATE TABLE t (i integer) WITH (autovacuum_vacuum_cost_delay = 100,"
        " autovacuum_vacuum_cost_limit = 1, autovacuum_vacuum_threshold = 0);"
        "INSERT INTO t SELECT generate_series(1, 1000000); DELETE FROM t;"
    )
    await odoo.close()
    admin = await _admin(postgres_server)
    await admin.execute("ALTER SYSTEM SET autovacuum_naptime = 1")
    await admin.execute("SELECT pg_reload_conf()")
    try:
        for _ in range(600):  # vacuuming these pages one by one takes minutes: it stays
            if await _autovacuum_on(admin, database):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("no autovacuum worker came to the database")
        await operator.objects.delete_namespaced_custom_object(
            GROUP, VERSION, operator.namespace, "odooinstances", "busy"
        )
        await _gone(operator, "busy")
    finally:
        await admin.execute("ALTER SYSTEM RESET autovacuum_naptime")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()
    assert not await _exists(postgres_server, "pg_database", "datname", database)
    assert not await _exists(postgres_server, "pg_roles", "rolname", role)


async def test_hostile_names_are_quoted(postgres_server: PostgresServer) -> None:
    """Identifiers and passwords with quotes, semicolons and backslashes stay data."""
    admin = PostgresAdmin()
    cluster = Cluster(
        "main",
        postgres_server.host,
        postgres_server.port,
        postgres_server.user,
        postgres_server.password,
    )
    role = 'odoo.x"; DROP ROLE postgres; --\\'
    password = "p'w\"; DROP TABLE x; --\\"
    database = 'db"; DROP DATABASE postgres; --'
    try:
        await admin.ensure_role(cluster, role, password)
        connection = await asyncpg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=role,
            password=password,
            database="postgres",
        )
        await connection.execute(f'CREATE DATABASE "{database.replace(chr(34), chr(34) * 2)}"')
        await connection.close()
        # A changed Secret password: the role stops authenticating, so it is ALTERed.
        other = PostgresAdmin()
        await other.ensure_role(cluster, role, password + "2")
        await other.stop()
        connection = await asyncpg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=role,
            password=password + "2",
            database="postgres",
        )
        await connection.close()
        await admin.drop_instance(cluster, role, database)
        assert not await _exists(postgres_server, "pg_roles", "rolname", role)
        assert not await _exists(postgres_server, "pg_database", "datname", database)
        assert await _exists(postgres_server, "pg_roles", "rolname", "postgres")
        assert await _exists(postgres_server, "pg_database", "datname", "postgres")
    finally:
        await admin.stop()

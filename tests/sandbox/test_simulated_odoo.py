"""Odoo-image containers on the pod simulator: real databases, failures on request, readiness."""

from __future__ import annotations

import asyncpg

from odoo_operator.runtime import KubeClient, ObjectKey
from odoo_operator.runtime.resources import PODS
from odoo_operator.sandbox.postgres import PostgresServer
from tests.conftest import Cluster
from tests.kubectl import kubectl
from tests.sandbox.conftest import (
    BATCH_JOBS,
    container_status,
    log_line,
    phase_is,
    pod_body,
    pod_ready,
    wait_for,
)
from tests.sandbox.test_backup_job import ODOO_IMAGE, create_instance_world, odoo_job, run_job


async def _rows(
    postgres: PostgresServer, database: str, query: str, *args: object
) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(postgres.dsn.rsplit("/", 1)[0] + f"/{database}")
    try:
        return [tuple(row) for row in await connection.fetch(query, *args)]
    finally:
        await connection.close()


async def _database_exists(postgres: PostgresServer, database: str) -> bool:
    query = "SELECT 1 FROM pg_database WHERE datname = $1"
    return bool(await _rows(postgres, "postgres", query, database))


async def test_init_upgrade_and_neutralize_change_the_real_database(
    kube: KubeClient, ns: str, postgres_server: PostgresServer
) -> None:
    instance = await create_instance_world(kube, ns, postgres_server)
    database = instance["database"]
    init = ["-i", "sale", "-d", database, "--no-http", "--stop-after-init"]
    await run_job(kube, ns, odoo_job("init", instance, init))
    owner_query = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1"
    owner = await _rows(postgres_server, "postgres", owner_query, database)
    assert owner == [(instance["role"],)]
    modules = "SELECT name, state, latest_version FROM ir_module_module ORDER BY name"
    assert await _rows(postgres_server, database, modules) == [
        ("base", "installed", "17.0.1.3"),
        ("sale", "installed", "17.0.1.0"),
    ]
    keys = await _rows(postgres_server, database, "SELECT key FROM ir_config_parameter")
    assert {"database.uuid", "database.create_date"} <= {key for (key,) in keys}
    assert await _rows(postgres_server, database, "SELECT login FROM res_users") == [("admin",)]

    upgrade = ["-d", database, "--no-http", "--stop-after-init", "-u", "all", "-i", "stock"]
    await run_job(kube, ns, odoo_job("upgrade", instance, upgrade))
    assert await _rows(postgres_server, database, modules) == [
        ("base", "installed", "17.0.1.4"),
        ("sale", "installed", "17.0.1.1"),
        ("stock", "installed", "17.0.1.0"),
    ]

    await run_job(kube, ns, odoo_job("neutralize", instance, ["neutralize", "-d", database]))
    flag = "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
    assert await _rows(postgres_server, database, flag) == [("True",)]


async def test_sandbox_fail_makes_init_fail_without_touching_the_database(
    cluster: Cluster, kube: KubeClient, ns: str, postgres_server: PostgresServer
) -> None:
    instance = await create_instance_world(kube, ns, postgres_server)
    database = instance["database"]
    init = ["-i", "base", "-d", database, "--no-http", "--stop-after-init"]
    failing = odoo_job("init", instance, init, env=[{"name": "SANDBOX_FAIL", "value": "init"}])
    await run_job(kube, ns, failing, outcome="Failed")
    pods = (await kube.list(PODS, ns, label_selector="job-name=init"))["items"]
    terminated = container_status(pods[0], "odoo")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")
    assert not await _database_exists(postgres_server, database)
    log = kubectl(cluster.kubeconfig, "-n", ns, "logs", "job/init").stdout
    assert "simulated Odoo: failing on purpose (SANDBOX_FAIL includes init)" in log
    job = await kube.get(BATCH_JOBS, "init", ns)
    assert [c["type"] for c in job["status"]["conditions"]] == ["Failed"]


def _web_pod(name: str, readiness_delay: int, *env: dict[str, str]) -> dict[str, object]:
    container = {
        "name": "odoo",
        "image": ODOO_IMAGE,
        "args": ["--max-cron-threads", "0", "-d", "unused"],
        "env": list(env),
        "readinessProbe": {
            "httpGet": {"path": "/web/health", "port": 8069},
            "initialDelaySeconds": readiness_delay,
        },
    }
    conf = {"name": "conf", "mountPath": "/etc/odoo"}
    pod = pod_body(name, [{**container, "volumeMounts": [conf]}], restart_policy="Always")
    pod["spec"]["volumes"] = [{"name": "conf", "secret": {"secretName": "inst-odoo-conf"}}]
    return pod


async def test_web_pods_become_ready_unless_told_not_to(
    cluster: Cluster, kube: KubeClient, ns: str, postgres_server: PostgresServer
) -> None:
    await create_instance_world(kube, ns, postgres_server)
    unready = {"name": "SANDBOX_UNREADY", "value": "true"}
    await kube.create(PODS, _web_pod("stuck", 0, unready), ns)
    await wait_for(kube, PODS, ObjectKey(ns, "stuck"), phase_is("Running"), "running")
    # Started after `stuck` was running, with a longer delay: once it is ready, `stuck`
    # would have been ready too, had SANDBOX_UNREADY not held it back.
    await kube.create(PODS, _web_pod("fine", 1), ns)
    await wait_for(kube, PODS, ObjectKey(ns, "fine"), pod_ready, "ready")
    stuck = await kube.get(PODS, "stuck", ns)
    assert not pod_ready(stuck)
    assert container_status(stuck, "odoo")["ready"] is False
    assert "running" in container_status(stuck, "odoo")["state"]
    line = "simulated Odoo: web server for database 'unused' running"
    await log_line(cluster.kubeconfig, ns, "fine", line)

"""Backup before upgrade and rollback, end to end in the sandbox through `kubectl`: the
backup and restore containers run for real (PostgreSQL, S3), the upgrade is the simulated
Odoo, made to fail after committing its changes (`SANDBOX_FAIL=upgrade-midway`) or
before touching anything. Observed through kubectl, S3 listings and the database."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg

from odoo_operator.database_names import working_database_patterns
from odoo_operator.sandbox.runner import BUCKET, OPERATOR_NAMESPACE, S3_SECRET, Sandbox
from tests.guards import JOB_STEP_GUARD
from tests.kubectl import kubectl, kubectl_json
from tests.sandbox.test_job_resources import INIT, apply, logins, sql, wait_for

INSTANCE = """
apiVersion: bemade.org/v1alpha1
kind: OdooInstance
metadata: {{name: myodoo, namespace: {ns}}}
spec:
  image: odoo:18.0
  adminPassword: changeme
  replicas: 1
  extraEnv: [{{name: SANDBOX_FAIL, value: "{fail}"}}]
"""
UPGRADE = """
apiVersion: bemade.org/v1alpha1
kind: OdooUpgradeJob
metadata: {{name: to-next, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
  modules: [base]
  backupDestination:
    bucket: {bucket}
    prefix: before
    endpoint: {endpoint}
    s3CredentialsSecretRef: {{name: {secret}, namespace: {operator_ns}}}
"""
BASE_VERSION = "SELECT latest_version FROM ir_module_module WHERE name = 'base'"


def wait_condition(kubeconfig: Path, ns: str, what: str, condition: str) -> None:
    kubectl(kubeconfig, "wait", "-n", ns, what, f"--for=condition={condition}",
            f"--timeout={JOB_STEP_GUARD}s")  # fmt: skip


async def keys_under(sandbox: Sandbox, prefix: str) -> list[str]:
    """The object keys under `prefix` in the sandbox's bucket, sorted."""
    assert sandbox.s3 is not None
    async with sandbox.s3.client() as s3:
        found = await s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in found.get("Contents", []))


async def working_databases(sandbox: Sandbox, database: str) -> list[str]:
    assert sandbox.postgres is not None
    connection = await asyncpg.connect(sandbox.postgres.dsn, database="postgres")
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE ANY($1::text[])",
            list(working_database_patterns(database)),
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


async def running_instance(sandbox: Sandbox, fail: str) -> tuple[dict[str, str], str]:
    """A fresh namespace with myodoo Running (its Odoo containers get SANDBOX_FAIL=fail);
    returns the manifest values and the database name."""
    kc, ns = sandbox.kubeconfig, f"bf-{secrets.token_hex(4)}"
    assert sandbox.s3 is not None
    values = {
        "ns": ns, "bucket": BUCKET, "endpoint": sandbox.s3.endpoint, "secret": S3_SECRET,
        "operator_ns": OPERATOR_NAMESPACE, "fail": fail,
    }  # fmt: skip
    run = asyncio.to_thread
    await run(kubectl, kc, "create", "namespace", ns)
    await run(apply, kc, INSTANCE, **values)
    await run(apply, kc, INIT, **values)
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    odoo = await run(kubectl_json, kc, "get", "odoo", "myodoo", "-n", ns)
    return values, odoo["spec"]["database"]["name"]


async def upgrade(sandbox: Sandbox, values: dict[str, str]) -> None:
    await asyncio.to_thread(apply, sandbox.kubeconfig, UPGRADE, **values)


async def test_the_upgrade_runs_after_a_backup_that_landed_in_s3(sandbox: Sandbox) -> None:
    values, database = await running_instance(sandbox, "")
    kc, ns, run = sandbox.kubeconfig, values["ns"], asyncio.to_thread
    before = await sql(sandbox, database, BASE_VERSION)
    await upgrade(sandbox, values)
    await run(wait_condition, kc, ns, "odooupgradejob/to-next", "BackedUp")
    await run(wait_for, kc, ns, "odooupgradejob/to-next", "{.status.phase}", "Completed")
    keys = await keys_under(sandbox, f"before/{ns}/myodoo/")
    assert len(keys) == 1
    assert keys[0].startswith(f"before/{ns}/myodoo/pre-upgrade/")
    done = await run(kubectl_json, kc, "get", "upgradejob", "to-next", "-n", ns)
    backed_up = next(c for c in done["status"]["conditions"] if c["type"] == "BackedUp")
    assert keys[0] in backed_up["message"]
    assert await sql(sandbox, database, BASE_VERSION) != before  # the upgrade ran
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")


async def test_a_failed_upgrade_is_rolled_back_to_the_data_before_it(sandbox: Sandbox) -> None:
    values, database = await running_instance(sandbox, "upgrade-midway")
    kc, ns, run = sandbox.kubeconfig, values["ns"], asyncio.to_thread
    await sql(sandbox, database, "INSERT INTO res_users (login) VALUES ('before-upgrade')")
    before = await sql(sandbox, database, BASE_VERSION)
    await upgrade(sandbox, values)
    await run(wait_condition, kc, ns, "odooupgradejob/to-next", "RolledBack")
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    failed = await run(kubectl_json, kc, "get", "upgradejob", "to-next", "-n", ns)
    assert failed["status"]["phase"] == "Failed"
    assert "; rolled back: s3://" in failed["status"]["message"]
    assert "before-upgrade" in await logins(sandbox, database)
    assert await sql(sandbox, database, BASE_VERSION) == before  # the upgrade's change is gone
    assert await working_databases(sandbox, database) == []
    restores = (await run(kubectl, kc, "get", "restore", "-n", ns, "-o", "name")).stdout.split()
    assert len(restores) == 1
    notes = (await run(kubectl, kc, "get", "events", "-n", ns,
                       "--field-selector", "reason=RolledBack")).stdout  # fmt: skip
    assert "OdooUpgradeJob to-next: rolled back" in notes
    neutralized = "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
    assert await sql(sandbox, database, neutralized) != "True"  # its own data: not neutralized


async def test_a_failed_backup_leaves_the_upgrade_failed_and_the_database_untouched(
    sandbox: Sandbox,
) -> None:
    values, database = await running_instance(sandbox, "")
    kc, ns, run = sandbox.kubeconfig, values["ns"], asyncio.to_thread
    before = await sql(sandbox, database, BASE_VERSION)
    await upgrade(sandbox, {**values, "bucket": "no-such-bucket"})
    await run(wait_for, kc, ns, "odooupgradejob/to-next", "{.status.phase}", "Failed")
    failed = await run(kubectl_json, kc, "get", "upgradejob", "to-next", "-n", ns)
    assert failed["status"]["message"].startswith("backup before upgrade failed: ")
    assert await sql(sandbox, database, BASE_VERSION) == before
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")

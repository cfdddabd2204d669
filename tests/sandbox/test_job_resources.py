"""The job resources end to end in the sandbox, through `kubectl` only (docs/jobs.md's
examples): init, backup, upgrade and restore reach Completed. The backup and restore
Jobs' containers run for real (the pod simulator runs the operator image's command as a
local process, env resolved from `secretKeyRef`, the PVC a directory): the backup lands
in S3 and the restore brings the rows back; `odoo neutralize` (simulated) marks the
restored database. The init and upgrade Odoo containers are simulated."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import zipfile
from pathlib import Path
from typing import Any

import asyncpg

from odoo_operator.sandbox.runner import BUCKET, OPERATOR_NAMESPACE, S3_SECRET, Sandbox
from tests.guards import JOB_STEP_GUARD
from tests.kubectl import kubectl, kubectl_json

INSTANCE = """
apiVersion: bemade.org/v1alpha1
kind: OdooInstance
metadata: {{name: myodoo, namespace: {ns}}}
spec:
  image: odoo:18.0
  adminPassword: changeme
  replicas: 1
"""
INIT = """
apiVersion: bemade.org/v1alpha1
kind: OdooInitJob
metadata: {{name: myodoo-init, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
"""
BACKUP = """
apiVersion: bemade.org/v1alpha1
kind: OdooBackupJob
metadata: {{name: myodoo-backup, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
  destination:
    bucket: {bucket}
    objectKey: {key}
    endpoint: {endpoint}
    s3CredentialsSecretRef: {{name: {secret}, namespace: {operator_ns}}}
"""
UPGRADE = """
apiVersion: bemade.org/v1alpha1
kind: OdooUpgradeJob
metadata: {{name: myodoo-upgrade, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
  modules: [base]
"""
RESTORE = """
apiVersion: bemade.org/v1alpha1
kind: OdooRestoreJob
metadata: {{name: myodoo-restore, namespace: {ns}}}
spec:
  odooInstanceRef: {{name: myodoo}}
  source:
    type: s3
    s3:
      bucket: {bucket}
      objectKey: {key}
      endpoint: {endpoint}
      s3CredentialsSecretRef: {{name: {secret}, namespace: {operator_ns}}}
"""


def apply(kubeconfig: Path, manifest: str, **values: str) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest.format(**values))


def wait_for(kubeconfig: Path, ns: str, what: str, jsonpath: str, value: str) -> None:
    """`kubectl wait --for=jsonpath=...`: a watch, no polling of ours. On a timeout the
    failure shows the object's status, to tell a slow step from a stuck one."""
    waited = kubectl(kubeconfig, "wait", "-n", ns, what, f"--for=jsonpath={jsonpath}={value}",
                     f"--timeout={JOB_STEP_GUARD}s", check=False)  # fmt: skip
    if waited.returncode != 0:
        shown = kubectl(kubeconfig, "get", "-n", ns, what, "-o", "jsonpath={.status}", check=False)
        raise AssertionError(f"{what} {jsonpath} not {value}: {waited.stderr}{shown.stdout}")


async def logins(sandbox: Sandbox, database: str) -> set[str]:
    assert sandbox.postgres is not None
    connection = await asyncpg.connect(sandbox.postgres.dsn, database=database)
    try:
        return {row["login"] for row in await connection.fetch("SELECT login FROM res_users")}
    finally:
        await connection.close()


async def sql(sandbox: Sandbox, database: str, statement: str, *args: Any) -> Any:
    assert sandbox.postgres is not None
    connection = await asyncpg.connect(sandbox.postgres.dsn, database=database)
    try:
        return await connection.fetchval(statement, *args)
    finally:
        await connection.close()


async def test_init_backup_upgrade_restore_through_kubectl_with_real_backup_and_restore(
    sandbox: Sandbox,
) -> None:
    kc, ns = sandbox.kubeconfig, f"j-{secrets.token_hex(4)}"
    assert sandbox.s3 is not None
    values = {
        "ns": ns, "bucket": BUCKET, "key": f"{ns}/myodoo.zip", "endpoint": sandbox.s3.endpoint,
        "secret": S3_SECRET, "operator_ns": OPERATOR_NAMESPACE,
    }  # fmt: skip
    run = asyncio.to_thread
    await run(kubectl, kc, "create", "namespace", ns)
    await run(apply, kc, INSTANCE, **values)
    await run(apply, kc, INIT, **values)
    await run(wait_for, kc, ns, "odooinitjob/myodoo-init", "{.status.phase}", "Completed")
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    odoo = await run(kubectl_json, kc, "get", "odoo", "myodoo", "-n", ns)
    database = odoo["spec"]["database"]["name"]
    await sql(sandbox, database, "INSERT INTO res_users (login) VALUES ('before-backup')")

    await run(apply, kc, BACKUP, **values)
    await run(wait_for, kc, ns, "odoobackupjob/myodoo-backup", "{.status.phase}", "Completed")
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    odoo = await run(kubectl_json, kc, "get", "odoo", "myodoo", "-n", ns)
    assert odoo["status"]["lastBackup"]
    async with sandbox.s3.client() as s3:
        answer = await s3.get_object(Bucket=BUCKET, Key=values["key"])
        async with answer["Body"] as body:
            archive = zipfile.ZipFile(io.BytesIO(await body.read()))
    assert json.loads(archive.read("manifest.json"))["db_name"] == database
    assert b"before-backup" in archive.read("dump.sql")
    backup = await run(kubectl_json, kc, "get", "odoobackupjob", "myodoo-backup", "-n", ns)
    log = (await run(kubectl, kc, "-n", ns, "logs", f"job/{backup['status']['jobName']}")).stdout
    assert "backup.done" in log

    await run(apply, kc, UPGRADE, **values)
    await run(wait_for, kc, ns, "odooupgradejob/myodoo-upgrade", "{.status.phase}", "Completed")
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")

    await sql(sandbox, database, "INSERT INTO res_users (login) VALUES ('after-backup')")
    await run(apply, kc, RESTORE, **values)
    await run(wait_for, kc, ns, "odoorestorejob/myodoo-restore", "{.status.phase}", "Completed")
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    found = await logins(sandbox, database)
    assert "before-backup" in found
    assert "after-backup" not in found
    neutralized = "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
    assert await sql(sandbox, database, neutralized) == "True"
    listed = (await run(kubectl, kc, "get", "odoorestorejob", "-n", ns)).stdout
    assert "Completed" in listed


async def test_a_failing_restore_leaves_the_database_and_the_instance_starts_again(
    sandbox: Sandbox,
) -> None:
    kc, ns = sandbox.kubeconfig, f"j-{secrets.token_hex(4)}"
    assert sandbox.s3 is not None
    values = {
        "ns": ns, "bucket": BUCKET, "key": f"{ns}/missing.zip", "endpoint": sandbox.s3.endpoint,
        "secret": S3_SECRET, "operator_ns": OPERATOR_NAMESPACE,
    }  # fmt: skip
    run = asyncio.to_thread
    await run(kubectl, kc, "create", "namespace", ns)
    await run(apply, kc, INSTANCE, **values)
    await run(apply, kc, INIT, **values)
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    odoo = await run(kubectl_json, kc, "get", "odoo", "myodoo", "-n", ns)
    database = odoo["spec"]["database"]["name"]
    await sql(sandbox, database, "INSERT INTO res_users (login) VALUES ('kept')")
    await run(apply, kc, RESTORE, **values)  # no object under that key
    await run(wait_for, kc, ns, "odoorestorejob/myodoo-restore", "{.status.phase}", "Failed")
    restore = await run(kubectl_json, kc, "get", "odoorestorejob", "myodoo-restore", "-n", ns)
    assert "kubectl logs job/" in restore["status"]["message"]
    await run(wait_for, kc, ns, "odoo/myodoo", "{.status.phase}", "Running")
    assert "kept" in await logins(sandbox, database)

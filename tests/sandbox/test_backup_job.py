"""A backup the way the operator will run one: simulated Odoo init, then the real runner.

The init Job's Odoo container is simulated and creates a real database with the
instance's role; the backup Job's container is the operator image, so the real
`odoo-operator job backup` runs with its credentials from Secrets and the filestore
from the PVC's directory, and the zip lands in the session's S3.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from typing import Any

import asyncpg

from odoo_operator.runtime import KubeClient, ObjectKey
from odoo_operator.runtime.resources import PERSISTENT_VOLUME_CLAIMS, SECRETS
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server
from tests.conftest import Cluster
from tests.kubectl import kubectl
from tests.sandbox.conftest import BATCH_JOBS, job_body, job_condition, wait_for

ODOO_IMAGE = "odoo:17.0"


def secret_ref(secret: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": secret, "key": key}}


async def create_instance_world(
    kube: KubeClient, ns: str, postgres: PostgresServer, name: str = "inst"
) -> dict[str, str]:
    """What the operator gives an instance: a role, its Secrets and the filestore PVC."""
    role, password = f"odoo.{ns}.{name}", secrets.token_hex(16)
    database = f"odoo_{ns.replace('-', '_')}_{name}"
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(
            f"""CREATE ROLE "{role}" LOGIN CREATEDB PASSWORD '{password}'"""  # test-made values
        )
    finally:
        await admin.close()
    conf = (
        "[options]\ndata_dir = /var/lib/odoo\n"
        f"db_host = {postgres.host}\ndb_port = {postgres.port}\n"
        f"db_user = {role}\ndb_password = {password}\ndb_name = {database}\n"
    )
    await kube.create(
        SECRETS, {"metadata": {"name": f"{name}-odoo-conf"}, "stringData": {"odoo.conf": conf}}, ns
    )
    await kube.create(
        SECRETS,
        {
            "metadata": {"name": f"{name}-odoo-user"},
            "stringData": {"username": role, "password": password},
        },
        ns,
    )
    claim = {
        "metadata": {"name": f"{name}-filestore-pvc"},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    await kube.create(PERSISTENT_VOLUME_CLAIMS, claim, ns)
    return {"role": role, "password": password, "database": database, "name": name}


def odoo_job(name: str, instance: dict[str, str], args: list[str], **container: Any) -> Any:
    """A Job whose one container runs Odoo (simulated) as the operator's init job would."""
    body = job_body(
        name,
        [
            {
                "name": "odoo",
                "image": ODOO_IMAGE,
                "command": ["odoo"],
                "args": args,
                "volumeMounts": [
                    {"name": "conf", "mountPath": "/etc/odoo"},
                    {"name": "filestore", "mountPath": "/var/lib/odoo"},
                ],
                **container,
            }
        ],
    )
    body["spec"]["template"]["spec"]["volumes"] = [
        {"name": "conf", "secret": {"secretName": f"{instance['name']}-odoo-conf"}},
        {
            "name": "filestore",
            "persistentVolumeClaim": {"claimName": f"{instance['name']}-filestore-pvc"},
        },
    ]
    return body


async def run_job(kube: KubeClient, ns: str, body: Any, outcome: str = "Complete") -> None:
    await kube.create(BATCH_JOBS, body, ns)
    key = ObjectKey(ns, body["metadata"]["name"])
    await wait_for(kube, BATCH_JOBS, key, job_condition(outcome), outcome)


async def test_backup_job_runs_the_real_runner(
    cluster: Cluster,
    kube: KubeClient,
    ns: str,
    postgres_server: PostgresServer,
    s3_server: S3Server,
) -> None:
    instance = await create_instance_world(kube, ns, postgres_server)
    database = instance["database"]
    init_args = ["-i", "base,sale", "-d", database, "--no-http", "--stop-after-init"]
    await run_job(kube, ns, odoo_job("init", instance, init_args))

    bucket, key = f"b-{secrets.token_hex(4)}", f"{ns}/backup.zip"
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    await kube.create(
        SECRETS,
        {
            "metadata": {"name": "s3-credentials"},
            "stringData": {"accessKey": s3_server.access_key, "secretKey": s3_server.secret_key},
        },
        ns,
    )
    args = f"job backup --database {database} --format zip --bucket {bucket} --key {key}"
    env = {
        "PGUSER": secret_ref("inst-odoo-user", "username"),
        "PGPASSWORD": secret_ref("inst-odoo-user", "password"),
        "AWS_ACCESS_KEY_ID": secret_ref("s3-credentials", "accessKey"),
        "AWS_SECRET_ACCESS_KEY": secret_ref("s3-credentials", "secretKey"),
    }
    runner = {
        "name": "backup",
        "image": cluster.operator_image,
        "args": [
            *args.split(),
            f"--filestore=/var/lib/odoo/filestore/{database}",
            "--endpoint",
            s3_server.endpoint,
        ],
        "env": [
            {"name": "PGHOST", "value": postgres_server.host},
            {"name": "PGPORT", "value": str(postgres_server.port)},
            *({"name": name, "valueFrom": source} for name, source in env.items()),
        ],
        "volumeMounts": [{"name": "filestore", "mountPath": "/var/lib/odoo"}],
    }
    backup = job_body("backup", [runner])
    backup["spec"]["template"]["spec"]["volumes"] = [
        {"name": "filestore", "persistentVolumeClaim": {"claimName": "inst-filestore-pvc"}}
    ]
    await run_job(kube, ns, backup)

    async with s3_server.client() as s3:
        answer = await s3.get_object(Bucket=bucket, Key=key)
        async with answer["Body"] as body:
            archive = zipfile.ZipFile(io.BytesIO(await body.read()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["modules"] == {"base": "17.0.1.3", "sale": "17.0.1.0"}
    assert manifest["version"] == "17.0"
    assert manifest["db_name"] == database
    stored = [n for n in archive.namelist() if n.startswith("filestore/")]
    assert len(stored) == 1
    assert b"simulated Odoo" in archive.read(stored[0])
    assert b"ir_config_parameter" in archive.read("dump.sql")

    runner_log = kubectl(cluster.kubeconfig, "-n", ns, "logs", "job/backup").stdout
    assert "backup.done" in runner_log
    assert instance["password"] not in runner_log
    assert s3_server.secret_key not in runner_log
    odoo_log = kubectl(cluster.kubeconfig, "-n", ns, "logs", "job/init").stdout
    assert "simulated Odoo: odoo -i base,sale" in odoo_log
    assert "simulated Odoo: modules installed: base, sale" in odoo_log

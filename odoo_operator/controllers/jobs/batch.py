"""What every batch Job of a job resource shares, as pure functions of a `Target`.

Guarantees (SPEC §3, §6):
- the batch Job is owned by its job resource (controller reference, so deleting the
  resource garbage-collects the Job and its pod), labelled `app.kubernetes.io/managed-by=
  odoo-operator` (the operator's informers select on it) and with the instance's name;
- `backoffLimit: 0` (a failed step is never rerun behind the user's back),
  `ttlSecondsAfterFinished: 900`, the kind's `activeDeadlineSeconds`, `restartPolicy:
  Never`;
- the pod is the web pods' (`instance.pods.pod_spec`): uid 100, gid 101, fsGroup 101, the
  filestore PVC at /var/lib/odoo and the conf Secret at /etc/odoo, the pull secret,
  affinity and tolerations of the instance;
- the runner's environment (`runner_env`) carries no secret value: `PGUSER`/`PGPASSWORD`
  come from the instance's `<name>-odoo-user` Secret and `AWS_*` from the credentials
  Secret in the instance's namespace, by `secretKeyRef`; only `PGHOST`/`PGPORT` (the
  resolved cluster's address) are literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance import names, pods
from odoo_operator.controllers.instance.children import encode
from odoo_operator.controllers.instance.odooconf import DATA_DIR
from odoo_operator.runtime.objects import KubeObject

TTL_SECONDS_AFTER_FINISHED = 900
S3_ACCESS_KEY = "accessKey"
S3_SECRET_KEY = "secretKey"  # noqa: S105 - a key name
MASTER_PASSWORD_KEY = "master-password"  # noqa: S105 - a key name


class CannotRun(ValueError):
    """The job resource cannot be turned into a batch Job; the message says why."""


@dataclass(frozen=True)
class Target:
    """Everything a batch Job is built from (read by the job controller beforehand)."""

    job: KubeObject  # the job resource: metadata and spec
    job_name: str  # the batch Job's name (`naming.batch_job_name`)
    instance: OdooInstance
    database: str  # the instance's database name
    db_host: str = ""  # the resolved cluster's address (backup, restore)
    db_port: int = 0
    operator_image: str | None = None  # `--operator-image` (backup, restore)
    s3_secret: str | None = None  # S3 credentials Secret in the instance's namespace
    source_secret: str | None = None  # restore: Secret holding the master password

    @property
    def namespace(self) -> str:
        return str(self.job["metadata"]["namespace"])

    @property
    def instance_name(self) -> str:
        return self.instance.metadata.name or ""

    def filestore_dir(self) -> str:
        """Odoo's filestore of the database: `<data_dir>/filestore/<db>`."""
        return f"{DATA_DIR}/filestore/{self.database}"


def owner_reference(job: KubeObject) -> dict[str, Any]:
    metadata = job["metadata"]
    return {
        "apiVersion": job["apiVersion"],
        "kind": job["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(target: Target, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": target.namespace,
        "labels": names.child_labels(target.instance_name),
        "ownerReferences": [owner_reference(target.job)],
    }


def batch_job(
    target: Target,
    deadline_seconds: int,
    containers: list[dict[str, Any]],
    init_containers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    pod = pods.pod_spec(target.instance_name, target.instance, containers)
    pod["restartPolicy"] = "Never"
    if init_containers:
        pod["initContainers"] = init_containers
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(target, target.job_name),
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "activeDeadlineSeconds": deadline_seconds,
            "template": {
                "metadata": {"labels": names.child_labels(target.instance_name)},
                "spec": pod,
            },
        },
    }


def copied_secret(target: Target, name: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret made for the batch Job (owned by the job resource, as the Job is)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(target, name),
        "type": "Opaque",
        "data": encode(data),
    }


def _from_secret(variable: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def runner_env(target: Target) -> list[dict[str, Any]]:
    """PG* and AWS_* for `odoo-operator job ...`, by reference (see the guarantees)."""
    user = names.user_secret(target.instance_name)
    env: list[dict[str, Any]] = [
        {"name": "PGHOST", "value": target.db_host},
        {"name": "PGPORT", "value": str(target.db_port)},
        _from_secret("PGUSER", user, names.USER_SECRET_USERNAME),
        _from_secret("PGPASSWORD", user, names.USER_SECRET_PASSWORD),
    ]
    if target.s3_secret:
        env += [
            _from_secret("AWS_ACCESS_KEY_ID", target.s3_secret, S3_ACCESS_KEY),
            _from_secret("AWS_SECRET_ACCESS_KEY", target.s3_secret, S3_SECRET_KEY),
        ]
    if target.source_secret:
        env.append(_from_secret("ODOO_MASTER_PASSWORD", target.source_secret, MASTER_PASSWORD_KEY))
    return env


def runner_container(target: Target, name: str, args: list[str]) -> dict[str, Any]:
    """`odoo-operator job ARGS` in the operator image, with the filestore mounted."""
    if not target.operator_image:
        raise CannotRun("the operator runs without --operator-image: no image for this Job")
    return {
        "name": name,
        "image": target.operator_image,
        "command": ["odoo-operator"],
        "args": ["job", *args, "--log-format", "json"],
        "env": runner_env(target),
        "volumeMounts": [{"name": "filestore", "mountPath": DATA_DIR}],
    }


def s3_args(endpoint: str, bucket: str, key: str, region: str | None, insecure: bool) -> list[str]:
    args = ["--endpoint", endpoint, "--bucket", bucket, "--key", key]
    if region:
        args += ["--region", region]
    if insecure:
        args.append("--insecure")
    return args

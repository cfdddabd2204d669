"""Pure parts of the job controllers: batch Job names, the four batch Job specs, the
runner's environment, the job status condition and history pruning."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from odoo_operator.api.base import JobPhase
from odoo_operator.api.instance import OdooInstance
from odoo_operator.api.job_resources import (
    OdooBackupJobSpec,
    OdooInitJobSpec,
    OdooRestoreJobSpec,
    OdooUpgradeJobSpec,
)
from odoo_operator.controllers.jobs import backup, history, init, naming, restore, upgrade
from odoo_operator.controllers.jobs import status as job_status
from odoo_operator.controllers.jobs.batch import CannotRun, Target
from odoo_operator.runtime.objects import freeze

S3 = {"bucket": "b", "objectKey": "shop/1.zip", "endpoint": "http://s3:9000"}
UID = "0b6e1d1c-3f1e-4b4e-9d55-1e0c0a6a2f11"


def instance(**spec: Any) -> OdooInstance:
    return OdooInstance.model_validate(
        {
            "metadata": {"name": "shop", "namespace": "ns", "uid": "i-1"},
            "spec": {"image": "odoo:18.0", "database": {"name": "odoo_shop"}, **spec},
        }
    )


def target(kind: str = "OdooBackupJob", **changes: Any) -> Target:
    job = {
        "apiVersion": "bemade.org/v1alpha1",
        "kind": kind,
        "metadata": {"name": "nightly", "namespace": "ns", "uid": UID},
    }
    base = Target(
        job=freeze(job),
        job_name=naming.batch_job_name("backup", "nightly", UID),
        instance=instance(),
        database="odoo_shop",
        db_host="pg.example",
        db_port=5433,
        operator_image="ghcr.io/bemade/odoo-operator:1.0",
        s3_secret="nightly-backup-abc123-s3",
    )
    return dataclasses.replace(base, **changes)


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_batch_job_names_are_stable_unique_per_resource_and_at_most_63_characters() -> None:
    name = naming.batch_job_name("backup", "nightly", UID)
    assert name == naming.batch_job_name("backup", "nightly", UID)
    assert name.startswith("nightly-backup-")
    assert naming.batch_job_name("backup", "nightly", UID + "x") != name  # recreated resource
    assert naming.batch_job_name("restore", "nightly", UID) != name
    long = naming.batch_job_name("upgrade", "a" * 62 + "-" + "b" * 100, UID)
    assert len(long) <= naming.MAX_JOB_NAME
    assert "--" not in long
    cut_at_dash = naming.batch_job_name("restore", "x" * 47 + "-yyyy", UID)
    assert len(cut_at_dash) <= 63
    assert "--" not in cut_at_dash


def test_every_batch_job_is_owned_never_retried_expires_and_runs_as_the_web_pods() -> None:
    job = init.build(OdooInitJobSpec.model_validate({"odooInstanceRef": {"name": "shop"}}),
                     target("OdooInitJob", instance=instance(
                         imagePullSecret="regcred",
                         affinity={"nodeAffinity": {}},
                         tolerations=[{"key": "k", "operator": "Exists"}],
                     )))  # fmt: skip
    metadata, spec = job["metadata"], job["spec"]
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "bemade.org/v1alpha1", "kind": "OdooInitJob", "name": "nightly",
            "uid": UID, "controller": True, "blockOwnerDeletion": True,
        }
    ]  # fmt: skip
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "odoo-operator"
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 900)
    assert spec["activeDeadlineSeconds"] == init.DEADLINE_SECONDS
    template = pod(job)
    assert template["restartPolicy"] == "Never"
    assert template["securityContext"] == {"runAsUser": 100, "runAsGroup": 101, "fsGroup": 101}
    assert template["volumes"] == [
        {"name": "filestore", "persistentVolumeClaim": {"claimName": "shop-filestore-pvc"}},
        {"name": "conf", "secret": {"secretName": "shop-odoo-conf"}},
    ]
    assert template["imagePullSecrets"] == [{"name": "regcred"}]
    assert template["affinity"] == {"nodeAffinity": {}}
    assert template["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert "app" not in template.get("metadata", {}).get("labels", {})  # never a web pod


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({}, ["-i", "base", "-d", "odoo_shop", "--no-http", "--stop-after-init",
              "--without-demo=all"]),
        ({"modules": ["base", "sale"], "demo": True},
         ["-i", "base,sale", "-d", "odoo_shop", "--no-http", "--stop-after-init"]),
    ],
)  # fmt: skip
def test_init_runs_odoo_install(spec: dict[str, Any], words: list[str]) -> None:
    parsed = OdooInitJobSpec.model_validate({"odooInstanceRef": {"name": "shop"}, **spec})
    job = init.build(parsed, target("OdooInitJob", instance=instance(extraEnv=[
        {"name": "A", "value": "1"}])))  # fmt: skip
    (container,) = pod(job)["containers"]
    assert container["image"] == "odoo:18.0"
    assert container["command"] == ["odoo"]
    assert container["args"] == ["--config", "/etc/odoo/odoo.conf", *words]
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert init.why_not(parsed, True) is not None
    assert init.why_not(parsed, False) is None


@pytest.mark.parametrize(
    ("spec", "tail"),
    [
        ({}, ["-u", "all"]),
        ({"modules": ["sale"]}, ["-u", "sale"]),
        ({"modulesInstall": ["crm"]}, ["-i", "crm"]),
        ({"modules": ["sale", "stock"], "modulesInstall": ["crm"]},
         ["-u", "sale,stock", "-i", "crm"]),
    ],
)  # fmt: skip
def test_upgrade_runs_odoo_update(spec: dict[str, Any], tail: list[str]) -> None:
    parsed = OdooUpgradeJobSpec.model_validate({"odooInstanceRef": {"name": "shop"}, **spec})
    (container,) = pod(upgrade.build(parsed, target("OdooUpgradeJob")))["containers"]
    assert container["args"] == [
        "--config", "/etc/odoo/odoo.conf", "-d", "odoo_shop", "--no-http", "--stop-after-init",
        *tail,
    ]  # fmt: skip
    assert upgrade.why_not(parsed, False) is not None
    assert upgrade.why_not(parsed, True) is None


@pytest.mark.parametrize(
    ("spec", "files"),
    [
        ({}, ["--filestore", "/var/lib/odoo/filestore/odoo_shop"]),
        ({"withFilestore": False}, ["--no-filestore"]),
        ({"format": "dump"}, []),
    ],
)
def test_backup_runs_the_runner_with_credentials_by_reference(
    spec: dict[str, Any], files: list[str]
) -> None:
    parsed = OdooBackupJobSpec.model_validate(
        {"odooInstanceRef": {"name": "shop"}, "destination": {**S3, "region": "eu",
         "insecure": True}, **spec}
    )  # fmt: skip
    job = backup.build(parsed, target(instance=instance(extraEnv=[{"name": "A", "value": "1"}])))
    (container,) = pod(job)["containers"]
    assert container["image"] == "ghcr.io/bemade/odoo-operator:1.0"
    assert container["command"] == ["odoo-operator"]
    assert container["args"] == [
        "job", "backup", "--database", "odoo_shop", "--format", parsed.format.value, *files,
        "--endpoint", "http://s3:9000", "--bucket", "b", "--key", "shop/1.zip",
        "--region", "eu", "--insecure", "--log-format", "json",
    ]  # fmt: skip
    env = {item["name"]: item for item in container["env"]}
    assert env["PGHOST"] == {"name": "PGHOST", "value": "pg.example"}
    assert env["PGPORT"] == {"name": "PGPORT", "value": "5433"}
    literal = {name for name, item in env.items() if "value" in item}
    assert literal == {"PGHOST", "PGPORT"}  # every credential comes from a Secret
    assert env["PGPASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "shop-odoo-user", "key": "password"}
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "nightly-backup-abc123-s3", "key": "secretKey"}
    }
    assert "A" not in env  # extraEnv is for Odoo containers only
    assert container["volumeMounts"] == [{"name": "filestore", "mountPath": "/var/lib/odoo"}]
    assert job["spec"]["activeDeadlineSeconds"] == backup.DEADLINE_SECONDS


def test_backup_and_restore_need_the_operator_image() -> None:
    parsed = OdooBackupJobSpec.model_validate({"odooInstanceRef": {"name": "shop"},
                                               "destination": S3})  # fmt: skip
    with pytest.raises(CannotRun, match="--operator-image"):
        backup.build(parsed, target(operator_image=None))


def test_restore_with_neutralize_runs_the_runner_first_then_odoo_neutralize() -> None:
    parsed = OdooRestoreJobSpec.model_validate(
        {"odooInstanceRef": {"name": "shop"}, "source": {"type": "s3", "s3": S3}}
    )
    template = pod(restore.build(parsed, target("OdooRestoreJob")))
    (runner,) = template["initContainers"]
    (neutralize,) = template["containers"]
    assert runner["args"][:7] == [
        "job",
        "restore",
        "--database",
        "odoo_shop",
        "--format",
        "zip",
        "--filestore",
    ]
    assert neutralize["image"] == "odoo:18.0"
    assert neutralize["args"] == [
        "neutralize",
        "--config",
        "/etc/odoo/odoo.conf",
        "-d",
        "odoo_shop",
    ]
    unneutralized = parsed.model_copy(update={"neutralize": False})
    (only,) = pod(restore.build(unneutralized, target("OdooRestoreJob")))["containers"]
    assert only["name"] == "restore"


def test_restore_from_odoo_reads_the_master_password_from_a_secret() -> None:
    parsed = OdooRestoreJobSpec.model_validate(
        {"odooInstanceRef": {"name": "shop"}, "format": "dump", "neutralize": False,
         "source": {"type": "odoo", "odoo": {"url": "https://old.example",
                                             "sourceDatabase": "prod", "masterPassword": "pw"}}}
    )  # fmt: skip
    job = restore.build(parsed, target("OdooRestoreJob", s3_secret=None, source_secret="src"))
    (runner,) = pod(job)["containers"]
    assert runner["args"] == [
        "job", "restore", "--database", "odoo_shop", "--format", "dump",
        "--odoo-url", "https://old.example", "--source-database", "prod",
        "--log-format", "json",
    ]  # fmt: skip
    env = {item["name"]: item for item in runner["env"]}
    assert env["ODOO_MASTER_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "src"
    assert "pw" not in repr(job)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"type": "s3"}, "spec.source.s3 is required"),
        ({"type": "odoo"}, "spec.source.odoo is required"),
        ({"type": "odoo", "odoo": {"url": "https://x"}}, "sourceDatabase is required"),
    ],
)
def test_a_restore_source_without_its_block_cannot_apply(
    source: dict[str, Any], problem: str
) -> None:
    parsed = OdooRestoreJobSpec.model_validate(
        {"odooInstanceRef": {"name": "shop"}, "source": source}
    )
    assert problem in (restore.why_not(parsed, True) or "")


def test_the_completed_condition_moves_only_when_its_status_changes() -> None:
    job = freeze({"metadata": {"name": "j"}, "status": {}})
    pending = job_status.fields(job, JobPhase.PENDING, "waiting")
    assert pending["conditions"][0]["status"] == "Unknown"
    assert "completionTime" not in pending
    since = pending["conditions"][0]["lastTransitionTime"]
    running = job_status.fields(
        freeze({"metadata": {"name": "j"}, "status": pending}), JobPhase.RUNNING, "started"
    )
    assert running["conditions"][0]["lastTransitionTime"] == since
    failed = job_status.fields(job, JobPhase.FAILED, "why")
    assert failed["conditions"][0]["status"] == "False"
    assert failed["completionTime"]


def _job(name: str, created: str, phase: str | None) -> Any:
    status = {"phase": phase} if phase else {}
    return freeze({"metadata": {"name": name, "creationTimestamp": created}, "status": status})


def test_history_keeps_the_newest_terminal_resources_and_never_touches_unfinished_ones() -> None:
    jobs = [
        _job("d", "2026-01-04T00:00:00Z", "Completed"),
        _job("a", "2026-01-01T00:00:00Z", "Failed"),
        _job("c", "2026-01-03T00:00:00Z", "Completed"),
        _job("b2", "2026-01-02T00:00:00Z", "Completed"),
        _job("b1", "2026-01-02T00:00:00Z", "Completed"),  # same second: name breaks the tie
        _job("p", "2026-01-01T00:00:00Z", "Pending"),
        _job("r", "2025-01-01T00:00:00Z", "Running"),
    ]
    assert [j["metadata"]["name"] for j in history.beyond_limit(jobs, 2)] == ["a", "b1", "b2"]
    assert history.beyond_limit(jobs, 10) == []
    assert len(history.beyond_limit(jobs, 0)) == 5

"""An instance's whole life, driven through the API as a user and the cluster would.

`STEPS` is the lifecycle as data: each step an async function of a `Lifecycle`, run in
order. The test plays what is not the operator: the kubelet (Deployments report ready
pods) and, until the job resources controller exists, that controller too (a labelled
batch Job owned by the job resource, `status.jobName`, then the Job's outcome). Together
the steps make the operator use every permission it has: each list and watch (caches),
SSA of every child kind (create and patch), the user Secret's POST, the finalizer and
spec defaults (patch), status (patch on each kind's `status`), `blockOwnerDeletion`
(update on `odooinstances/finalizers`), the Ingress removed (delete), the webhook token
Secret read (get), an Event series counted up (patch), the web pods restarted (patch),
the Lease (get, create, update), a backup schedule's catch-up backup and verification
Job (its OdooBackupJob created, blockOwnerDeletion on `odoobackupschedules/finalizers`,
the instance's `BackupVerified` condition), the backup an upgrade takes first (created by
the upgrade's controller), and the cleanup on delete.

While waiting, every step reads the operator's log: a line with a 403 or "forbidden"
ends the lifecycle at once with `Forbidden` (a refused request is never waited out).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    BatchV1Api,
    CoreV1Api,
    CustomObjectsApi,
    NetworkingV1Api,
)
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.jobs.backup_first import BACKUP_ROLE
from odoo_operator.sandbox.kubelet import finish_job, set_deployment_ready
from odoo_operator.sandbox.postgres import PostgresServer
from tests.guards import JOB_STEP_GUARD

STEP_TIMEOUT = float(JOB_STEP_GUARD)  # a guard against a hang, not a speed bound
# Answers of a server too busy to answer now (a loaded run saw "504: request did not
# complete within 1m0s" for a GET): a poll asks again, within STEP_TIMEOUT.
BUSY = frozenset({429, 500, 503, 504})
MERGE_PATCH = "application/merge-patch+json"
HOOK_TOKEN = "lifecycle-hook-token"
REFUSED = re.compile(r"\b403\b|forbidden", re.IGNORECASE)


class Forbidden(AssertionError):
    """The operator's log shows a refused request."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("the operator was refused:\n" + "\n".join(lines))
        self.lines = lines


def refused_lines(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if REFUSED.search(line)]


@dataclass
class Lifecycle:
    api: ApiClient  # an admin's: the user's and the cluster's side
    namespace: str
    log: Path  # the operator's
    postgres: PostgresServer
    hook_url: str
    name: str = "shop"
    done: list[str] = field(default_factory=list)  # names of the steps completed

    @property
    def objects(self) -> CustomObjectsApi:
        return CustomObjectsApi(self.api)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        """Poll `check` until it holds; raise `Forbidden` as soon as the log shows one."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            if lines := refused_lines(self.log):
                raise Forbidden(lines)
            try:
                if await check():
                    return
            except ApiException as error:
                if error.status not in BUSY:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {STEP_TIMEOUT:.0f}s (after {self.done})")
            await asyncio.sleep(0.1)

    async def until_found(self, find: Callable[[], Awaitable[str | None]], what: str) -> str:
        """Poll `find` as `until` does, until it returns a name; return that name."""
        found: list[str] = []

        async def check() -> bool:
            name = await find()
            found[:] = [name] if name is not None else []
            return bool(found)

        await self.until(check, what)
        return found[0]

    async def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.objects.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    async def create(self, plural: str, kind: str, name: str, spec: dict[str, Any]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        await self.objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, body
        )

    async def until_phase(self, *phases: str) -> dict[str, Any]:
        latest: dict[str, Any] = {}

        async def reached() -> bool:
            nonlocal latest
            latest = await self.get("odooinstances", self.name) or {}
            return (latest.get("status") or {}).get("phase") in phases

        await self.until(reached, f"phase {'/'.join(phases)}")
        return latest

    async def until_job_phase(self, plural: str, name: str, phase: str) -> None:
        async def reached() -> bool:
            job = await self.get(plural, name) or {}
            return (job.get("status") or {}).get("phase") == phase

        await self.until(reached, f"{plural} {name} {phase}")

    async def web_deployment(self) -> Any:
        return await AppsV1Api(self.api).read_namespaced_deployment(
            names.web(self.name), self.namespace
        )

    async def role_password(self) -> tuple[str, str]:
        secret = await CoreV1Api(self.api).read_namespaced_secret(
            names.user_secret(self.name), self.namespace
        )
        decoded = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
        return decoded[names.USER_SECRET_USERNAME], decoded[names.USER_SECRET_PASSWORD]


async def play_job(lc: Lifecycle, plural: str, name: str) -> None:
    """The Job controller's and the kubelet's part: the operator's job controller created
    the batch Job (recorded in the resource's `status.jobName`); the test reports it done."""

    async def started() -> bool:
        job = await lc.get(plural, name)
        return bool(job and job.get("status", {}).get("jobName"))

    await lc.until(started, f"{plural} {name} running its batch Job")
    job = await lc.get(plural, name)
    assert job is not None
    await finish_job(lc.api, lc.namespace, job["status"]["jobName"], succeeded=True)


async def serve(lc: Lifecycle) -> None:
    """On to Running: once the operator wants one web pod, report it ready (after an
    upgrade the old pod still counts as ready, so the phase may be Running already)."""
    await lc.until_phase("Starting", "Running")

    async def one_wanted() -> bool:
        return bool((await lc.web_deployment()).spec.replicas == 1)

    await lc.until(one_wanted, "web Deployment at 1 replica")
    await set_deployment_ready(lc.api, lc.namespace, names.web(lc.name), 1)
    await lc.until_phase("Running")


async def create_instance(lc: Lifecycle) -> None:
    secret = {
        "metadata": {"name": "hook", "namespace": lc.namespace},
        "data": {"token": base64.b64encode(HOOK_TOKEN.encode()).decode()},
    }
    await CoreV1Api(lc.api).create_namespaced_secret(lc.namespace, secret)
    spec = {
        "init": {},
        "ingress": {"hosts": ["shop.example.com"]},
        "webhook": {"url": lc.hook_url, "secretTokenSecretRef": {"name": "hook", "key": "token"}},
    }
    await lc.create("odooinstances", "OdooInstance", lc.name, spec)
    await lc.until_phase("Initializing")


async def initialize(lc: Lifecycle) -> None:
    """The auto-init job runs; Odoo would create the database as the instance's role."""
    instance = await lc.get("odooinstances", lc.name)
    assert instance is not None
    role, password = await lc.role_password()
    server = lc.postgres
    connection = await asyncpg.connect(
        host=server.host, port=server.port, user=role, password=password, database="postgres"
    )
    try:
        await connection.execute(f'CREATE DATABASE "{instance["spec"]["database"]["name"]}"')
    finally:
        await connection.close()
    await play_job(lc, "odooinitjobs", names.auto_init_job(lc.name))
    await serve(lc)


async def back_up(lc: Lifecycle) -> None:
    destination = {"bucket": "backups", "objectKey": "shop.zip", "endpoint": "http://127.0.0.1:9"}
    spec = {"odooInstanceRef": {"name": lc.name}, "destination": destination}
    await lc.create("odoobackupjobs", "OdooBackupJob", "shop-backup", spec)
    await lc.until_phase("BackingUp")
    await play_job(lc, "odoobackupjobs", "shop-backup")
    await lc.until_phase("Running")
    await lc.until_job_phase("odoobackupjobs", "shop-backup", "Completed")


async def schedule_backups(lc: Lifecycle) -> None:
    """A yearly schedule with verification, its status written; the test moves its
    `lastScheduleTime` back two years, as if the operator had been down across a tick,
    so the catch-up backup comes at once (and no other tick comes during the lifecycle);
    the backup and its verification Job run (the test plays them)."""
    destination = {"bucket": "backups", "endpoint": "http://127.0.0.1:9"}
    spec = {"odooInstanceRef": {"name": lc.name}, "schedule": "0 0 1 1 *",
            "destination": destination, "verify": True}  # fmt: skip
    await lc.create("odoobackupschedules", "OdooBackupSchedule", "yearly", spec)

    async def status_written() -> bool:
        schedule = await lc.get("odoobackupschedules", "yearly") or {}
        return bool((schedule.get("status") or {}).get("conditions"))

    await lc.until(status_written, "the schedule's status")
    two_years_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 366 * 86400))
    await lc.objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, lc.namespace, "odoobackupschedules", "yearly",
        {"status": {"lastScheduleTime": two_years_ago}}, _content_type=MERGE_PATCH,
    )  # fmt: skip
    backup = f"yearly-{time.gmtime().tm_year}01010000"
    await lc.until_phase("BackingUp")
    await play_job(lc, "odoobackupjobs", backup)
    await lc.until_job_phase("odoobackupjobs", backup, "Completed")

    async def verification_job() -> str | None:
        jobs = await BatchV1Api(lc.api).list_namespaced_job(lc.namespace)
        return next((j.metadata.name for j in jobs.items if "-verify-" in j.metadata.name), None)

    name = await lc.until_found(verification_job, "the verification Job")
    await finish_job(lc.api, lc.namespace, name, succeeded=True)

    async def verified() -> bool:
        schedule = await lc.get("odoobackupschedules", "yearly") or {}
        return ((schedule.get("status") or {}).get("lastVerified") or {}).get("result") == "Passed"

    await lc.until(verified, "the verification recorded")
    await lc.until_phase("Running")


async def upgrade(lc: Lifecycle) -> None:
    """The instance has a backup schedule now, so `backupFirst` defaults to true: the
    operator's pre-upgrade OdooBackupJob runs (the test plays it), then the upgrade."""
    spec = {"odooInstanceRef": {"name": lc.name}, "modules": ["base"]}
    await lc.create("odooupgradejobs", "OdooUpgradeJob", "shop-upgrade", spec)

    async def pre_upgrade_backup() -> str | None:
        jobs = await lc.objects.list_namespaced_custom_object(
            GROUP, VERSION, lc.namespace, "odoobackupjobs"
        )
        prefix = f"shop-upgrade-{BACKUP_ROLE}-"
        found = (j["metadata"]["name"] for j in jobs["items"])
        return next((name for name in found if name.startswith(prefix)), None)

    backup = await lc.until_found(pre_upgrade_backup, "the pre-upgrade backup")
    await play_job(lc, "odoobackupjobs", backup)
    await lc.until_job_phase("odoobackupjobs", backup, "Completed")
    await lc.until_phase("Upgrading")
    await play_job(lc, "odooupgradejobs", "shop-upgrade")
    await lc.until_job_phase("odooupgradejobs", "shop-upgrade", "Completed")

    async def restarted() -> bool:
        template = (await lc.web_deployment()).spec.template.metadata
        return names.RESTARTED_AT_ANNOTATION in (template.annotations or {})

    await lc.until(restarted, "web pods restarted")
    await serve(lc)


async def restore(lc: Lifecycle) -> None:
    source = {
        "type": "s3",
        "s3": {"bucket": "backups", "objectKey": "shop.zip", "endpoint": "http://127.0.0.1:9"},
    }
    spec = {"odooInstanceRef": {"name": lc.name}, "source": source, "neutralize": False}
    await lc.create("odoorestorejobs", "OdooRestoreJob", "shop-restore", spec)
    await lc.until_phase("Restoring")
    await play_job(lc, "odoorestorejobs", "shop-restore")
    await lc.until_job_phase("odoorestorejobs", "shop-restore", "Completed")
    await serve(lc)


async def drop_ingress(lc: Lifecycle) -> None:
    await lc.objects.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        lc.namespace,
        "odooinstances",
        lc.name,
        {"spec": {"ingress": None}},
        _content_type=MERGE_PATCH,
    )

    async def gone() -> bool:
        try:
            await NetworkingV1Api(lc.api).read_namespaced_ingress(names.web(lc.name), lc.namespace)
        except ApiException as error:
            return error.status == 404
        return False

    await lc.until(gone, "Ingress deleted")


async def _exists(server: PostgresServer, query: str, name: str) -> bool:
    connection = await asyncpg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database="postgres",
    )
    try:
        return await connection.fetchval(query, name) is not None
    finally:
        await connection.close()


async def delete(lc: Lifecycle) -> None:
    """The finalizer drops the database and the role, then lets the instance go."""
    instance = await lc.get("odooinstances", lc.name)
    assert instance is not None
    database = instance["spec"]["database"]["name"]
    role, _ = await lc.role_password()
    await lc.objects.delete_namespaced_custom_object(
        GROUP, VERSION, lc.namespace, "odooinstances", lc.name
    )

    async def gone() -> bool:
        return await lc.get("odooinstances", lc.name) is None

    await lc.until(gone, "instance deleted (finalizer removed)")
    assert not await _exists(lc.postgres, "SELECT 1 FROM pg_database WHERE datname = $1", database)
    assert not await _exists(lc.postgres, "SELECT 1 FROM pg_roles WHERE rolname = $1", role)


Step = Callable[[Lifecycle], Awaitable[None]]
STEPS: tuple[Step, ...] = (
    create_instance,
    initialize,
    back_up,
    schedule_backups,
    upgrade,
    restore,
    drop_ingress,
    delete,
)


async def run(lc: Lifecycle) -> None:
    for step in STEPS:
        await step(lc)
        lc.done.append(step.__name__)

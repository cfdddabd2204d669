"""The schedule controller on the real control plane, PostgreSQL and S3, in this process,
on a fake clock; the test plays the Job controller and the kubelet (and, where a test
says so, runs a batch Job's container command for real: `run_container`).

- `clock`: the schedule controller's time; `Schedules.at(when)` moves it and wakes the
  controller for every schedule (the wake-up it asked for is in real seconds);
- `Schedules`: create and read schedules and their OdooBackupJobs through `kubectl`,
  wait for the controller to have acted (`settle`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, BatchV1Api, CoreV1Api

from odoo_operator.controllers.jobs.verify import RESULT_FILE
from odoo_operator.controllers.resources import ODOO_BACKUP_JOBS, ODOO_BACKUP_SCHEDULES
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.kubelet import finish_job, start_job
from odoo_operator.sandbox.s3 import S3Server
from tests.instance.conftest import (  # noqa: F401 - fixtures used by these tests
    Operator,
    clusters,
    operator_namespace,
    start_operator,
    stop_operator,
    write_secret,
)
from tests.jobs.conftest import OPERATOR_IMAGE
from tests.kubectl import kubectl, kubectl_json
from tests.runtime.helpers import eventually

WITHIN = 120.0  # generous: the machine runs other suites beside these
S3_SECRET = "s3-credentials"


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def minute(when: dt.datetime, plus: int = 0, seconds: float = 0) -> dt.datetime:
    """The minute of `when` (seconds dropped), `plus` minutes and `seconds` later."""
    start = when.replace(second=0, microsecond=0)
    return start + dt.timedelta(minutes=plus, seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Operators:
    """The operator in this process, on the fake clock; stopped and started again by
    tests that take it down across ticks."""

    def __init__(self, start: Callable[[], Awaitable[tuple[Operator, asyncio.Task[None]]]]) -> None:
        self._start = start
        self.running: tuple[Operator, asyncio.Task[None]] | None = None

    @property
    def current(self) -> Operator:
        assert self.running is not None, "the operator is stopped"
        return self.running[0]

    async def start(self) -> Operator:
        assert self.running is None
        self.running = await self._start()
        return self.running[0]

    async def stop(self) -> None:
        if self.running is not None:
            operator, task = self.running
            self.running = None
            await stop_operator(operator, task)


@pytest.fixture
async def operators(  # noqa: PLR0917 - fixtures
    control_plane: ControlPlane,
    api_client: ApiClient,
    namespace: str,
    operator_namespace: str,  # noqa: F811 - the fixture imported above
    clusters: dict[str, Any],  # noqa: F811
    clock: FakeClock,
) -> AsyncIterator[Operators]:
    found = Operators(lambda: start_operator(
        control_plane, api_client, namespace, operator_namespace,
        clock=clock, operator_image=OPERATOR_IMAGE,
    ))  # fmt: skip
    try:
        yield found
    finally:
        await found.stop()


@pytest.fixture
async def operator(operators: Operators) -> Operator:
    return await operators.start()


@pytest.fixture
async def bucket(s3_server: S3Server) -> str:
    name = f"sched-{secrets.token_hex(5)}"
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket=name)
    return name


@dataclass
class Schedules:
    operators: Operators
    namespace: str
    clock: FakeClock
    kubeconfig: Path
    s3: S3Server
    bucket: str

    @property
    def operator(self) -> Operator:
        return self.operators.current

    async def credentials(self) -> None:
        keys = {"accessKey": self.s3.access_key, "secretKey": self.s3.secret_key}
        await write_secret(self.operator.api, self.namespace, S3_SECRET, keys)

    def spec(self, **changes: Any) -> dict[str, Any]:
        destination = {
            "bucket": self.bucket, "prefix": "nightly", "endpoint": self.s3.endpoint,
            "region": self.s3.region, "s3CredentialsSecretRef": {"name": S3_SECRET},
        }  # fmt: skip
        return {"odooInstanceRef": {"name": "shop"}, "schedule": "* * * * *",
                "destination": destination, "format": "sql", **changes}  # fmt: skip

    async def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = await asyncio.to_thread(kubectl, self.kubeconfig, "-n", self.namespace, *args,
                                       stdin=stdin)  # fmt: skip
        return done.stdout

    async def json(self, *args: str) -> dict[str, Any]:
        return await asyncio.to_thread(kubectl_json, self.kubeconfig, "-n", self.namespace, *args)

    async def apply(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": "bemade.org/v1alpha1", "kind": "OdooBackupSchedule",
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}  # fmt: skip
        await self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(body))
        return await self.get(name)

    async def get(self, name: str) -> dict[str, Any]:
        return await self.json("get", "backupschedule", name)

    async def backups(self) -> dict[str, dict[str, Any]]:
        """The OdooBackupJobs by name, as `kubectl get odoobackupjobs` lists them."""
        found = await self.json("get", "odoobackupjobs")
        return {item["metadata"]["name"]: item for item in found["items"]}

    def controller(self) -> Any:
        manager = self.operator.manager
        return next(c for c in manager.controllers if c.primary == ODOO_BACKUP_SCHEDULES)

    async def at(self, when: dt.datetime, name: str) -> None:
        """Move the clock to `when`, wake the controller for schedule `name`, and wait
        until it has acted on it."""
        self.clock.now = when
        self.controller().enqueue(ObjectKey(self.namespace, name))
        await self.settle()

    async def settle(self) -> None:
        controller = self.controller()
        await eventually(controller.queue.idle, within=WITHIN, what="schedule controller idle")

    async def wait(self, name: str, check: Any, what: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + WITHIN
        while not check(latest := await self.get(name)):
            assert asyncio.get_running_loop().time() < deadline, f"{what}: {latest.get('status')}"
            await asyncio.sleep(0.1)
        return latest

    async def wait_backup(self, name: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + WITHIN
        while name not in (found := await self.backups()):
            assert asyncio.get_running_loop().time() < deadline, f"no {name}: {sorted(found)}"
            await asyncio.sleep(0.1)
        return found[name]

    async def wait_until_finished(self, job: str) -> dict[str, Any]:
        """Wait for the OdooBackupJob `job` to be Completed or Failed, then for the
        controller to have seen it."""
        deadline = asyncio.get_running_loop().time() + WITHIN
        while (
            phase := ((found := await self.backups())[job].get("status") or {}).get("phase")
        ) not in {"Completed", "Failed"}:
            assert asyncio.get_running_loop().time() < deadline, f"{job} still {phase}"
            await asyncio.sleep(0.1)
        lister = self.operator.manager.informer(ODOO_BACKUP_JOBS).lister
        await eventually(
            lambda: (
                ((lister.get(ObjectKey(self.namespace, job)) or {}).get("status") or {}).get(
                    "phase"
                )
                == phase
            ),
            within=WITHIN,
            what=f"{job} {phase} in the cache",
        )
        await self.settle()
        return found[job]

    async def listing(self) -> list[str]:
        async with self.s3.client() as s3:
            answer = await s3.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in answer.get("Contents", []))


@pytest.fixture
async def schedules(  # noqa: PLR0917 - fixtures
    operators: Operators,
    operator: Operator,
    clock: FakeClock,
    kubeconfig: Path,
    s3_server: S3Server,
    bucket: str,
) -> Schedules:
    found = Schedules(operators, operator.namespace, clock, kubeconfig, s3_server, bucket)
    await found.credentials()
    return found


async def _env(operator: Operator, container: Any) -> dict[str, str]:
    """The container's environment, `secretKeyRef`s read as the kubelet reads them."""
    core = CoreV1Api(operator.api)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    for item in container.env or ():
        if item.value is not None:
            env[item.name] = item.value
            continue
        ref = item.value_from.secret_key_ref
        secret = await core.read_namespaced_secret(ref.name, operator.namespace)
        env[item.name] = base64.b64decode(secret.data[ref.key]).decode()
    return env


async def run_container(
    operator: Operator, job_name: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Play the kubelet for batch Job `job_name` and run its one container's command for
    real (`odoo-operator job ...` of this checkout), then report the Job's outcome by its
    exit status, as the Job controller would. The termination-log file is redirected
    under `tmp_path`. Returns the finished process (exit status and output)."""
    batch = await BatchV1Api(operator.api).read_namespaced_job(job_name, operator.namespace)
    (container,) = batch.spec.template.spec.containers
    assert container.command == ["odoo-operator"]
    args = [str(tmp_path / "termination-log") if a == RESULT_FILE else a for a in container.args]
    env = await _env(operator, container)
    await start_job(operator.api, operator.namespace, job_name)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "odoo_operator", *args], env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    message = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
    await finish_job(operator.api, operator.namespace, job_name, succeeded=done.returncode == 0,
                     message=f"exit {done.returncode}: {message[0][:200]}")  # fmt: skip
    return done

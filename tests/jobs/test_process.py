"""`odoo-operator run` as a real process, SIGKILLed right after creating a batch Job and
before recording it: restarted, it adopts that Job and creates no second one."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient, BatchV1Api

from odoo_operator.runner import pausepoints
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.kubelet import finish_job, start_job
from tests.instance.conftest import Operator, batch_job_of
from tests.instance.test_process import operator_process
from tests.jobs.conftest import Jobs

pytestmark = pytest.mark.usefixtures("installed_crds", "clusters")


async def _until(path: Path, within: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await asyncio.to_thread(path.exists):
        assert asyncio.get_running_loop().time() < deadline, f"{path.name} not reached"
        await asyncio.sleep(0.1)


async def test_killed_between_creating_the_batch_job_and_recording_it(
    control_plane: ControlPlane,
    api_client: ApiClient,
    namespace: str,
    operator_namespace: str,
    tmp_path: Path,
) -> None:
    kubeconfig, log = control_plane.kubeconfig, tmp_path / "operator.log"
    operator = Operator(None, None, api_client, namespace)  # type: ignore[arg-type]
    jobs = Jobs(operator)
    pause = {
        pausepoints.PAUSE_DIR: str(tmp_path),
        pausepoints.PAUSE_AT: pausepoints.BATCH_JOB_CREATED,
    }
    with operator_process(kubeconfig, namespace, operator_namespace, log, extra_env=pause) as first:
        await operator.create("shop", {"init": {}})
        await _until(tmp_path / f"{pausepoints.BATCH_JOB_CREATED}.reached")
        first.send_signal(signal.SIGKILL)
        first.wait()
    created = await jobs.batch_jobs()
    assert len(created) == 1
    init = await jobs.get("OdooInitJob", "shop-auto-init")
    assert "jobName" not in (init.get("status") or {})  # created, never recorded

    with operator_process(kubeconfig, namespace, operator_namespace, log):
        name = await batch_job_of(operator, "odooinitjobs", "shop-auto-init")
        assert name == created[0].metadata.name
        after = await jobs.batch_jobs()
        assert [job.metadata.uid for job in after] == [created[0].metadata.uid]
        await start_job(api_client, namespace, name)
        await finish_job(api_client, namespace, name, succeeded=True)
        await jobs.wait_phase("OdooInitJob", "shop-auto-init", "Completed")
    batch = await BatchV1Api(api_client).list_namespaced_job(namespace)
    assert len(batch.items) == 1

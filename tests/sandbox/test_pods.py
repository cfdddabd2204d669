"""Pods of the operator image on the pod simulator: real processes, reported like a kubelet."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

from odoo_operator.runtime import KubeClient, ObjectKey
from odoo_operator.runtime.resources import (
    CONFIG_MAPS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    SECRETS,
)
from odoo_operator.sandbox.process import pid_alive
from tests.conftest import Cluster
from tests.kubectl import kubectl
from tests.sandbox.conftest import (
    BATCH_JOBS,
    container_status,
    gone,
    job_body,
    job_condition,
    log_line,
    phase_is,
    pod_body,
    python_container,
    wait_for,
)


async def test_failing_container_fails_the_job_with_its_exit_code(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    code = "import sys; print('about to fail', flush=True); sys.exit(3)"
    await kube.create(BATCH_JOBS, job_body("fails", [python_container(cluster, "main", code)]), ns)
    await wait_for(kube, BATCH_JOBS, ObjectKey(ns, "fails"), job_condition("Failed"), "failed")
    (pod,) = (await kube.list(PODS, ns, label_selector="job-name=fails"))["items"]
    assert pod["status"]["phase"] == "Failed"
    terminated = container_status(pod, "main")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    job = await kube.get(BATCH_JOBS, "fails", ns)
    assert job["status"]["failed"] == 1
    log = kubectl(cluster.kubeconfig, "-n", ns, "logs", "job/fails").stdout
    assert log == "about to fail\n"


async def _claim_dir(cluster: Cluster, kube: KubeClient, ns: str, name: str) -> Path:
    claim = {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await kube.create(PERSISTENT_VOLUME_CLAIMS, claim, ns)
    bound = await wait_for(
        kube,
        PERSISTENT_VOLUME_CLAIMS,
        ObjectKey(ns, name),
        lambda c: bool(c and (c.get("status") or {}).get("phase") == "Bound"),
        "bound",
    )
    assert bound is not None
    assert bound["status"]["capacity"] == {"storage": "1Gi"}
    uid = bound["metadata"]["uid"]
    directory = cluster.pod_simulator.run_dir / "volumes" / ns / f"{name}-{uid[:8]}"
    assert directory.is_dir()
    return directory


def _pids_running(cluster: Cluster, marker: str) -> list[int]:
    """PIDs below the pod simulator whose command line holds `marker`."""
    found = []
    for pid in cluster.pod_simulator.pids():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if marker.encode() in command:
            found.append(pid)
    return found


async def test_deleted_pod_gets_sigterm_and_its_process_is_gone(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    data = await _claim_dir(cluster, kube, ns, "data")
    marker = f"marker-{secrets.token_hex(4)}"
    code = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    open(sys.argv[1], 'w').write('SIGTERM')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"print('{marker}', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    mount = [{"name": "data", "mountPath": "/data"}]
    container = python_container(cluster, "main", code, "/data/stopped", volumeMounts=mount)
    pod = pod_body("sleeper", [container], restart_policy="Always")
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    await kube.create(PODS, pod, ns)
    await log_line(cluster.kubeconfig, ns, "sleeper", marker)  # printed once it handles SIGTERM
    (pid,) = _pids_running(cluster, marker)
    await kube.delete(PODS, "sleeper", ns)
    await wait_for(kube, PODS, ObjectKey(ns, "sleeper"), gone, "deleted")
    assert not pid_alive(pid)
    assert (data / "stopped").read_text() == "SIGTERM"  # the path was translated to the claim


async def test_container_waits_for_its_secret_then_runs_with_its_environment(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    await kube.create(
        CONFIG_MAPS, {"metadata": {"name": "settings"}, "data": {"MODE": "test", "x.y": "skip"}}, ns
    )
    code = (
        "import json, os, stat\n"
        "mode = oct(stat.S_IMODE(os.stat(os.environ['CONF']).st_mode))\n"
        "keys = ['POD', 'NAMESPACE', 'CFG_MODE', 'URL', 'TOKEN']\n"
        "print(json.dumps({k: os.environ.get(k) for k in keys} | {'mode': mode, "
        "'seen': open(os.environ['CONF']).read(), 'home': os.environ['HOME'] == os.getcwd()}))\n"
    )
    container = python_container(
        cluster,
        "main",
        code,
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        env=[
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "URL", "value": "http://$(POD).$(NAMESPACE)"},
            {"name": "CONF", "value": "/conf/settings.ini"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}},
        ],
        volumeMounts=[{"name": "conf", "mountPath": "/conf"}],
    )
    pod = pod_body("env", [container])
    pod["spec"]["volumes"] = [
        {
            "name": "conf",
            "secret": {
                "secretName": "late",
                "items": [{"key": "ini", "path": "settings.ini", "mode": 0o640}],
            },
        }
    ]
    await kube.create(PODS, pod, ns)

    def waiting_for_the_secret(pod: object) -> bool:
        statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or ()  # type: ignore[attr-defined]
        return any(
            s["state"].get("waiting", {}).get("message") == 'secret "late" not found'
            for s in statuses
        )

    await wait_for(kube, PODS, ObjectKey(ns, "env"), waiting_for_the_secret, "waiting")
    await kube.create(
        SECRETS, {"metadata": {"name": "late"}, "stringData": {"token": "t0k", "ini": "[x]\n"}}, ns
    )
    await wait_for(kube, PODS, ObjectKey(ns, "env"), phase_is("Succeeded"), "succeeded")
    printed = json.loads(kubectl(cluster.kubeconfig, "-n", ns, "logs", "env").stdout)
    assert printed == {
        "POD": "env",
        "NAMESPACE": ns,
        "CFG_MODE": "test",
        "URL": f"http://env.{ns}",
        "TOKEN": "t0k",
        "mode": "0o640",
        "seen": "[x]\n",
        "home": True,
    }


async def test_init_containers_run_first_and_share_an_empty_dir(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    write = "import sys; open(sys.argv[1], 'w').write('from init')"
    read = "import sys; print(open(sys.argv[1]).read())"
    mount = [{"name": "work", "mountPath": "/work"}]
    main = python_container(cluster, "main", read, "/work/note", volumeMounts=mount)
    prepare = python_container(cluster, "prepare", write, "/work/note", volumeMounts=mount)
    pod = pod_body("ordered", [main])
    pod["spec"]["initContainers"] = [prepare]
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    await kube.create(PODS, pod, ns)
    done = await wait_for(kube, PODS, ObjectKey(ns, "ordered"), phase_is("Succeeded"), "done")
    assert done is not None
    init_state = done["status"]["initContainerStatuses"][0]["state"]["terminated"]
    assert init_state["exitCode"] == 0
    conditions = {c["type"]: c["status"] for c in done["status"]["conditions"]}
    assert conditions["Initialized"] == "True"
    assert kubectl(cluster.kubeconfig, "-n", ns, "logs", "ordered", "-c", "main").stdout == (
        "from init\n"
    )


async def test_on_failure_restarts_and_previous_logs(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    """The first run fails, the second (after the kubelet's 10 s back-off) succeeds."""
    code = (
        "import os, sys\n"
        "first = not os.path.exists(sys.argv[1])\n"
        "open(sys.argv[1], 'w').close()\n"
        "print('run', 'one' if first else 'two', flush=True)\n"
        "sys.exit(1 if first else 0)\n"
    )
    mount = [{"name": "work", "mountPath": "/work"}]
    pod = pod_body(
        "retry",
        [python_container(cluster, "main", code, "/work/ran", volumeMounts=mount)],
        restart_policy="OnFailure",
    )
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    await kube.create(PODS, pod, ns)
    done = await wait_for(kube, PODS, ObjectKey(ns, "retry"), phase_is("Succeeded"), "done")
    assert done is not None
    main = container_status(done, "main")
    assert main["restartCount"] == 1
    assert main["lastState"]["terminated"]["exitCode"] == 1
    logs = ["-n", ns, "logs", "retry"]
    assert kubectl(cluster.kubeconfig, *logs).stdout == "run two\n"
    assert kubectl(cluster.kubeconfig, *logs, "--previous").stdout == "run one\n"


async def test_deleted_claim_takes_its_directory_along(
    cluster: Cluster, kube: KubeClient, ns: str
) -> None:
    directory = await _claim_dir(cluster, kube, ns, "scratch")
    (directory / "file").write_text("data")
    await kube.delete(PERSISTENT_VOLUME_CLAIMS, "scratch", ns)
    await wait_for(kube, PERSISTENT_VOLUME_CLAIMS, ObjectKey(ns, "scratch"), gone, "deleted")
    deadline = time.monotonic() + 30  # the node removes it on the same event we just saw
    while directory.exists():
        assert time.monotonic() < deadline, f"{directory} outlived its claim"
        await asyncio.sleep(0.05)

"""The operator inside the sandbox: `odoo-operator run` started by `odoo-operator sandbox`.

Through the command, as a user runs it: after `sandbox ready`, kubectl sees our CRDs at
once, the operator holds its leader Lease, an OdooInstance edit that breaks a webhook
rule is refused with the rule's message; SIGTERM ends it with exit 0, the operator
releases its Lease and no process is left; an operator that exits is started again.
Through the `sandbox` fixture (the same machinery in the test process): every URL in
`sandbox.json` answers.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.process import START_TIMEOUT, descendants, pid_alive
from odoo_operator.sandbox.runner import LEADER_LEASE, OPERATOR_NAMESPACE, Sandbox
from odoo_operator.webhook.paths import path
from tests.kubectl import kubectl
from tests.sandbox_command import children, command_line, running_sandbox

SHOP = {
    "apiVersion": "bemade.org/v1alpha1",
    "kind": "OdooInstance",
    "metadata": {"name": "shop", "namespace": "shop"},
    "spec": {
        "image": "odoo:18.0",
        "replicas": 1,
        "filestore": {"storageSize": "10Gi"},
        "ingress": {"hosts": ["shop.example.com"]},
    },
}


def _lease_holder(kubeconfig: Path) -> str:
    return kubectl(
        kubeconfig, "-n", OPERATOR_NAMESPACE, "get", "lease", LEADER_LEASE,
        "-o", "jsonpath={.spec.holderIdentity}",
    ).stdout  # fmt: skip


def _eventually(holds: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not holds():
        assert time.monotonic() < deadline, f"not {what} within {START_TIMEOUT:.0f} s"
        time.sleep(0.5)


def _operators(sandbox_pid: int) -> list[int]:
    return [pid for pid in children(sandbox_pid) if "run" in command_line(pid)]


def test_the_operator_runs_inside_until_sigterm(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    with running_sandbox(tmp_path, kubeconfig) as proc:
        # Right after `sandbox ready`: no "no matches for kind OdooInstance".
        kubectl(kubeconfig, "create", "namespace", "shop")
        kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(SHOP))
        crds = kubectl(kubeconfig, "get", "crd", "-o", "name").stdout.split()
        assert sorted(crds) == sorted(
            f"customresourcedefinition.apiextensions.k8s.io/{kind.name}" for kind in CRD_KINDS
        )

        refused = kubectl(
            kubeconfig, "-n", "shop", "patch", "odooinstance", "shop", "--type=merge",
            "-p", '{"spec":{"filestore":{"storageSize":"5Gi"}}}', check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert 'admission webhook "validate-odooinstances.bemade.org" denied the request' in (
            refused.stderr
        )
        assert "spec.filestore.storageSize: may only grow, 10Gi -> 5Gi" in refused.stderr

        assert _lease_holder(kubeconfig) != ""
        started = children(proc.pid)
        # etcd, kube-apiserver, kube-controller-manager, postgres, moto, pod simulator, operator
        assert len(started) == 7
        operator = [pid for pid in started if "run" in command_line(pid)]
        assert len(operator) == 1
        argv = command_line(operator[0])
        assert "--leader-elect" in argv
        assert "--operator-image=odoo-operator:sandbox" in argv

        everything = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert [pid for pid in everything if pid_alive(pid)] == []
        log = tmp_path / "run" / "operator" / "operator.log"
        assert f"operator log: {log}" in err
        assert "leader lease released" in log.read_text()


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.read().decode()


def _post(url: str, body: dict[str, Any], ca_file: str) -> tuple[int, dict[str, Any]]:
    context = ssl.create_default_context(cafile=ca_file)
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def _ready(url: str) -> bool:
    try:
        return _get(url) == (200, "ok")
    except OSError:  # refused: between two runs of a restarted operator
        return False


def _metrics(url: str) -> str:
    try:
        return _get(url)[1]
    except OSError:
        return ""


def test_every_url_in_sandbox_json_answers(sandbox: Sandbox) -> None:
    info = json.loads(sandbox.info_path.read_text())
    assert sandbox.operator is not None
    # The session's sandbox restarts its operator whenever it exits (on a lost Lease, under
    # load), on the same ports: wait for it as a readiness probe would, then use it.
    _eventually(lambda: _ready(info["health"].replace("/healthz", "/readyz")), "ready")
    assert _get(info["health"]) == (200, "ok")
    assert sandbox.operator.process.pid in sandbox.pids()  # counted by the leak check
    leader = f'leader_election_master_status{{name="{LEADER_LEASE}"}} 1.0'
    _eventually(lambda: leader in _metrics(info["metrics"]), "the leader")

    # A denial through the API server, counted where the metrics URL says.
    probe = {**SHOP, "metadata": {"name": "probe", "namespace": OPERATOR_NAMESPACE},
             "spec": {"database": {"name": "postgres"}}}  # fmt: skip
    refused = kubectl(sandbox.kubeconfig, "apply", "--dry-run=server", "-f", "-",
                      stdin=json.dumps(probe), check=False)  # fmt: skip
    assert "denied the request" in refused.stderr
    denied = 'odoo_operator_webhook_admissions_total{kind="OdooInstance",result="denied"}'
    assert denied in _get(info["metrics"])[1]

    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "bemade.org", "version": "v1alpha1", "kind": "OdooInstance"},
            "operation": "CREATE",
            "namespace": "shop",
            "name": "shop",
            "object": {**SHOP, "spec": {"database": {"name": "postgres"}}},
        },
    }
    status, answer = _post(info["webhook"] + path("OdooInstance"), review, info["ca"])
    assert status == 200
    assert answer["response"]["allowed"] is False
    assert "spec.database.name" in answer["response"]["status"]["message"]

    server = kubectl(sandbox.kubeconfig, f"--server={info['apiserver']}", "get", "--raw", "/readyz")
    assert server.stdout == "ok"


def test_an_operator_that_exits_is_started_again_as_the_kubelet_would(
    tmp_path: Path, envtest_assets: EnvtestAssets
) -> None:
    """It exits by design when it cannot renew its Lease in time (a loaded machine)."""
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    only_the_operator = [
        option
        for part in ("kubelet", "controller-manager", "postgres", "s3")
        for option in ("--without", part)
    ]
    with running_sandbox(tmp_path, kubeconfig, *only_the_operator) as proc:
        [crashed] = _operators(proc.pid)
        holder = _lease_holder(kubeconfig)
        os.kill(crashed, signal.SIGKILL)

        # The successor takes the Lease over once the crashed one's has expired...
        _eventually(lambda: _lease_holder(kubeconfig) not in ("", holder), "a new Lease holder")
        [successor] = _operators(proc.pid)
        assert successor != crashed
        # ...and its webhook answers on the port the API server was given.
        probe = {
            "apiVersion": "bemade.org/v1alpha1",
            "kind": "OdooInstance",
            "metadata": {"name": "probe", "namespace": OPERATOR_NAMESPACE},
            "spec": {"database": {"name": "postgres"}},
        }
        refused = kubectl(
            kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(probe), check=False
        )
        assert "spec.database.name" in refused.stderr
        assert "denied the request" in refused.stderr

        log = (tmp_path / "run" / "operator" / "operator.log").read_text()
        assert "[sandbox] odoo-operator exited with status -9; restarting in 1 s" in log
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert not pid_alive(successor)

"""`odoo-operator run` serving the webhook, registered with the real kube-apiserver.

`webhook_operator` (one per module): a namespace `wh-<hex>` labelled for the webhook,
the operator as a process with a certificate from a test CA, and a
ValidatingWebhookConfiguration (built by `webhook.paths.webhooks`, loopback URL +
caBundle) that sends only that namespace's objects to it, so other tests sharing the
control plane are never affected.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_operator.sandbox.certs import CertificateAuthority
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.webhook.paths import webhooks
from tests.kubectl import kubectl
from tests.webhook.helpers import issue, write_like_kubelet


@dataclass
class WebhookOperator:
    kubeconfig: Path
    namespace: str
    ca: CertificateAuthority
    cert_dir: Path
    port: int
    metrics: str
    process: subprocess.Popen[bytes]
    log: Path


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_until_enforced(kubeconfig: Path, namespace: str) -> None:
    """The API server picks a new configuration up within a second or so: wait for it."""
    probe = {
        "apiVersion": "bemade.org/v1alpha1",
        "kind": "OdooInstance",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"database": {"name": "postgres"}},
    }
    deadline = time.monotonic() + 30
    while True:
        result = kubectl(
            kubeconfig,
            "create",
            "--dry-run=server",
            "-f",
            "-",
            stdin=json.dumps(probe),
            check=False,
        )
        if "spec.database.name: 'postgres' is reserved" in result.stderr:
            return
        assert time.monotonic() < deadline, f"webhook not enforced: {result.stderr}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def webhook_operator(
    control_plane: ControlPlane,
    installed_crds: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebhookOperator]:
    kubeconfig = control_plane.kubeconfig
    namespace = f"wh-{secrets.token_hex(4)}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    kubectl(kubeconfig, "label", "namespace", namespace, f"webhook-test={namespace}")
    run_dir = tmp_path_factory.mktemp("webhook-operator")
    ca = CertificateAuthority("webhook e2e CA")
    cert_dir = run_dir / "certs"
    write_like_kubelet(cert_dir, issue(ca))
    port, health, metrics = free_port(), free_port(), free_port()
    log = run_dir / "operator.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "odoo_operator", "run", "--kubeconfig", str(kubeconfig),
                "--no-leader-elect", "--log-format", "json",
                # The webhook serves every namespace; the controllers watch an empty one so
                # they neither default these tests' objects nor touch other tests' objects.
                "--watch-namespace", f"{namespace}-unwatched",
                "--webhook-port", str(port), "--webhook-cert-dir", str(cert_dir),
                "--metrics-bind-address", f"{LOOPBACK}:{metrics}",
                "--health-probe-bind-address", f"{LOOPBACK}:{health}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    config_name = f"odoo-operator-{namespace}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(f"http://{LOOPBACK}:{health}/readyz"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not ready after 60 s: {log.read_text()}"
            time.sleep(0.2)
        ca_bundle = base64.b64encode(ca.cert_pem).decode()
        configuration = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": config_name},
            "webhooks": webhooks(
                lambda path: {"url": f"https://{LOOPBACK}:{port}{path}", "caBundle": ca_bundle},
                namespace_selector={"matchLabels": {"webhook-test": namespace}},
            ),
        }
        kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(configuration))
        _wait_until_enforced(kubeconfig, namespace)
        yield WebhookOperator(
            kubeconfig, namespace, ca, cert_dir, port, f"http://{LOOPBACK}:{metrics}/metrics",
            process, log,
        )  # fmt: skip
    finally:
        kubectl(kubeconfig, "delete", "validatingwebhookconfiguration", config_name, check=False)
        if process.poll() is None:
            process.kill()
            process.wait()

"""The operator inside the sandbox: `odoo-operator run` as a child process.

It runs against the sandbox's API server as it would in a cluster: leader election on
(Lease in the operator namespace), `--operator-image` set to the image whose containers
the pod simulator runs for real, and its validating webhook served over TLS with a
certificate of the control plane's CA, so the API server can call it through a
ValidatingWebhookConfiguration with a loopback `url` and that CA as `caBundle`
(`webhook_configuration()`).

Guarantees:
- webhook, metrics and health listen on free ports; metrics and health on loopback only;
- the log (text, every line) goes to `operator.log` in its run directory;
- `wait_ready()` returns once `/readyz` answers 200, which includes a TLS handshake
  with the webhook server; it fails early, naming the log, if the process exits;
- leader election runs with `LEASE_TIMINGS` (60 s / 40 s / 8 s), four times SPEC's;
- it is restarted whenever it exits before `stop()`, as the kubelet restarts the
  operator's container in a cluster: after `RESTART_DELAYS` (1 s, doubling up to 30 s while
  it keeps exiting within `STABLE_RUN` of its start), on the same ports, each restart noted in the
  log. The operator exits by design when it loses its leader Lease (on a machine too
  loaded to renew it in time, for one);
- `stop()` sends SIGTERM (the operator finishes in-flight reconciles and releases its
  Lease), SIGKILL only after `STOP_GRACE`; no restart follows; the process dies with
  its parent.
"""

from __future__ import annotations

import base64
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess
from odoo_operator.webhook.paths import webhooks

# Above the operator's own grace for in-flight reconciles (30 s), so it can use all of it.
STOP_GRACE = 40.0
WEBHOOK_CONFIGURATION = "odoo-operator"
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# Four times SPEC's 15 s / 10 s / 2 s: one replica on a shared machine, where a Lease
# renewal has timed out at load 40 and the restart that followed left the webhook down
# for a minute; with one replica, a slower takeover costs nothing.
LEASE_TIMINGS = (
    "--leader-elect-lease-duration=60",
    "--leader-elect-renew-deadline=40",
    "--leader-elect-retry-period=8",
)
STABLE_RUN = 60.0  # a run this long starts the delays over


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class OperatorProcess:
    """`odoo-operator run` against `plane`, its certificate and log under `run_dir`."""

    def __init__(
        self,
        plane: ControlPlane,
        run_dir: Path,
        *,
        operator_image: str,
        operator_namespace: str,
        clusters_secret: str,
    ) -> None:
        self.run_dir = run_dir
        self.webhook_port = free_port()
        self.metrics_port = free_port()
        self.health_port = free_port()
        self._ca_pem = plane.ca.cert_pem
        cert_dir = run_dir / "webhook-certs"
        plane.ca.issue_serving(["localhost"], [LOOPBACK]).write(cert_dir)
        self.process = ManagedProcess(
            "odoo-operator",
            [
                sys.executable, "-m", "odoo_operator", "run",
                f"--kubeconfig={plane.kubeconfig}",
                "--leader-elect",
                *LEASE_TIMINGS,
                f"--operator-namespace={operator_namespace}",
                f"--postgres-clusters-secret={clusters_secret}",
                f"--operator-image={operator_image}",
                f"--webhook-port={self.webhook_port}",
                f"--webhook-cert-dir={cert_dir}",
                f"--metrics-bind-address={LOOPBACK}:{self.metrics_port}",
                f"--health-probe-bind-address={LOOPBACK}:{self.health_port}",
                "--log-format=text",
            ],
            run_dir / "operator.log",
        )  # fmt: skip
        self._stopping = threading.Event()
        self._restart_lock = threading.Lock()  # no restart once stop() has begun
        self._supervisor: threading.Thread | None = None

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def webhook_url(self) -> str:
        """Base URL; each kind has its path below it (`webhook.paths.path(kind)`)."""
        return f"https://{LOOPBACK}:{self.webhook_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"

    @property
    def health_url(self) -> str:
        """`/healthz`; `/readyz` is on the same port."""
        return f"http://{LOOPBACK}:{self.health_port}/healthz"

    @property
    def ready_url(self) -> str:
        return f"http://{LOOPBACK}:{self.health_port}/readyz"

    def webhook_configuration(self) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration that sends our kinds to this process."""
        ca_bundle = base64.b64encode(self._ca_pem).decode()
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_CONFIGURATION},
            "webhooks": webhooks(
                lambda path: {"url": f"{self.webhook_url}{path}", "caBundle": ca_bundle}
            ),
        }

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self.process.start()
        self._supervisor = threading.Thread(
            target=self._supervise, name="operator-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self) -> None:
        """Restart the operator whenever it exits before `stop()`.

        This thread starts each new process and lives as long as it: a child's
        parent-death signal is tied to the thread that started it.
        """
        quick_exits = 0
        while True:
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            quick_exits = quick_exits + 1 if time.monotonic() - started < STABLE_RUN else 1
            delay = RESTART_DELAYS[min(quick_exits, len(RESTART_DELAYS)) - 1]
            self._note(f"odoo-operator exited with status {code}; restarting in {delay:.0f} s")
            if self._stopping.wait(delay):
                return
            with self._restart_lock:
                if self._stopping.is_set():
                    return
                self.process.start()

    def _note(self, message: str) -> None:
        """A line of the sandbox's own in the operator's log, and on stderr."""
        with self.log_path.open("a") as log:
            log.write(f"[sandbox] {message}\n")
        print(f"[sandbox] {message}", file=sys.stderr, flush=True)

    def wait_ready(self) -> None:
        self.process.wait_until(
            lambda: _answers_200(self.ready_url), START_TIMEOUT, "ready on /readyz"
        )

    def pids(self) -> list[int]:
        """PIDs of the running processes this part started (for leak checks)."""
        return [self.process.pid] if self.process.running() else []

    def stop(self) -> None:
        with self._restart_lock:
            self._stopping.set()
        self.process.stop(grace=STOP_GRACE)
        if self._supervisor is not None:
            self._supervisor.join()

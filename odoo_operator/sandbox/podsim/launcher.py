"""Starting and stopping the pod simulator process, from the sandbox or a test session.

Guarantees:
- the node agent runs as its own process (`python -m odoo_operator.sandbox.podsim`)
  with the parent-death signal, logs to `pod-simulator.log` in its run directory, and
  serves its kubelet endpoint on a free loopback port with a certificate of the
  control plane's CA;
- `start()` (or `launch()` then `wait_ready()`) returns once `/healthz` answers 200
  (Node registered, caches synced);
- `pids()` names the agent and every process below it (the containers it runs and
  whatever they started), so a leak check can see each of them;
- `stop()` sends SIGTERM (the agent stops its containers within 5 s), SIGKILL after
  15 s, then removes the claims' directories and the pods' volumes (Secrets written as
  files) from the run directory; containers' logs stay.
"""

from __future__ import annotations

import shutil
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess, descendants

NODE_NAME = "sandbox-node"
STOP_GRACE = 15.0


class PodSimulator:
    """The node agent against `plane`, running containers under `run_dir`."""

    def __init__(
        self, plane: ControlPlane, run_dir: Path, operator_image: str, node_name: str = NODE_NAME
    ) -> None:
        self.run_dir = run_dir
        self.node_name = node_name
        self.operator_image = operator_image
        self.port = free_port()
        tls = run_dir / "tls"
        plane.ca.issue_serving(["localhost", node_name], [LOOPBACK]).write(tls)
        self._client = ssl.create_default_context(cadata=plane.ca.cert_pem.decode())
        self._client.load_cert_chain(
            str(plane.pki / "kubelet-client.crt"), str(plane.pki / "kubelet-client.key")
        )
        self.process = ManagedProcess(
            "pod-simulator",
            [
                sys.executable,
                "-m",
                "odoo_operator.sandbox.podsim",
                f"--kubeconfig={plane.kubeconfig}",
                f"--run-dir={run_dir}",
                f"--node-name={node_name}",
                f"--port={self.port}",
                f"--operator-image={operator_image}",
                f"--tls-cert={tls / 'tls.crt'}",
                f"--tls-key={tls / 'tls.key'}",
                f"--client-ca={plane.pki / 'ca.crt'}",
            ],
            run_dir / "pod-simulator.log",
        )

    @property
    def endpoint(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own loopback endpoint
                f"{self.endpoint}/healthz", timeout=2, context=self._client
            ) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)  # Secrets are written as files below it
        self.process.start()

    def wait_ready(self) -> None:
        self.process.wait_until(self._healthy, START_TIMEOUT, "healthy on /healthz")

    def pids(self) -> list[int]:
        """The agent and every process below it, while it runs (for leak checks)."""
        if not self.process.running():
            return []
        return [self.process.pid, *descendants(self.process.pid)]

    def stop(self) -> None:
        self.process.stop(grace=STOP_GRACE)
        shutil.rmtree(self.run_dir / "volumes", ignore_errors=True)
        for pod_volumes in (self.run_dir / "pods").glob("*/volumes"):
            shutil.rmtree(pod_volumes, ignore_errors=True)

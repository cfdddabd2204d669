"""The real kube-controller-manager, with the controllers a cluster runs for our kinds.

On top of a `ControlPlane` it makes the API server behave like a cluster's: owners'
deletions cascade (garbage collector, foreground deletion finishes), Deployments get
ReplicaSets and ReplicaSets Pods, Jobs get Pods and read their outcome from them,
finished Jobs expire (`ttlSecondsAfterFinished`), deleted namespaces are emptied and
go away, every namespace gets its `default` ServiceAccount and token Secret, and a
deleted PVC goes once no pod uses it.
Nothing schedules or runs the Pods: that is the pod simulator's part (`podsim`).

Guarantees:
- it runs with the admin kubeconfig, no leader election, no serving ports, and logs to
  `kube-controller-manager.log` in the run directory;
- `start()` (or `launch()` then `wait_ready()`) returns only when every controller has
  logged that its caches are synced (client-go's `Caches are synced for <name>` line),
  so a Deployment created right after gets its ReplicaSet;
- `stop()` stops exactly the PID it started (SIGTERM, then SIGKILL), and the process
  dies with its parent.
"""

from __future__ import annotations

from pathlib import Path

from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess

# `--controllers` names, each with the name its informer sync line carries.
CONTROLLERS = {
    "garbagecollector": "garbage collector",
    "deployment": "deployment",
    "replicaset": "ReplicaSet",
    "job": "job",
    "ttl-after-finished": "TTL after finished",
    "namespace": "namespace",
    "serviceaccount": "service account",
    "serviceaccount-token": "tokens",
    # The API server's StorageObjectInUseProtection admission puts a finalizer on every
    # PVC; this controller removes it once no pod uses the claim, so deletions finish.
    "pvc-protection": "PVC protection",
}


class ControllerManager:
    """kube-controller-manager against `plane`, its log in `run_dir`."""

    def __init__(self, binary: Path, plane: ControlPlane, run_dir: Path) -> None:
        self.log_path = run_dir / "kube-controller-manager.log"
        self._log_offset = 0
        self.process = ManagedProcess(
            "kube-controller-manager",
            [
                str(binary),
                f"--kubeconfig={plane.kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--feature-gates=TTLAfterFinished=true",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={plane.pki / 'sa.key'}",
                f"--root-ca-file={plane.pki / 'ca.crt'}",
                "--port=0",
                "--secure-port=0",
                # The defaults (20 requests/s, bursts of 30) make a namespace's deletion
                # or a large cascade visibly slow; a laptop's API server takes more.
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--profiling=false",
            ],
            self.log_path,
        )

    def _caches_synced(self) -> bool:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return False
        return all(f"Caches are synced for {name} " in text for name in CONTROLLERS.values())

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process.start()

    def wait_ready(self) -> None:
        self.process.wait_until(self._caches_synced, START_TIMEOUT, "synced its caches")

    def pids(self) -> list[int]:
        """PIDs of the running processes this part started (for leak checks)."""
        return [self.process.pid] if self.process.running() else []

    def stop(self) -> None:
        self.process.stop()

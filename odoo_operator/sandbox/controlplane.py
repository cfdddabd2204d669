"""A real Kubernetes control plane without nodes: etcd + kube-apiserver on loopback.

This is controller-runtime's envtest done in Python: no kubelet, no controller
manager, so nothing runs pods, collects garbage or finishes namespace deletion.
Callers play those parts themselves (see `kubelet`), or add the real controller
manager (`controllermanager`) and the pod simulator (`podsim`) on top.

Guarantees:
- both servers listen on free loopback ports, log to files under the run directory,
  and are stopped by PID (`stop()`), apiserver first;
- `start()` returns only when `/readyz` answers 200 (or in two steps: `launch()` starts
  both and returns, `wait_ready()` returns on that 200);
- the kubeconfig written by `write_kubeconfig` works for `kubectl` and
  `kubernetes_asyncio` alike (token auth, our CA pinned);
- with `authorization="RBAC"` the API server authorizes as a production cluster does
  (`--authorization-mode=Node,RBAC`) and also enforces `OwnerReferencesPermissionEnforcement`
  (setting `blockOwnerDeletion` needs `update` on the owner's `finalizers`, as on
  OpenShift); the admin token stays in `system:masters`, so it may do anything;
- the API server reaches kubelets (for `kubectl logs`) at a node's InternalIP, checks
  their serving certificate against our CA and presents a client certificate of ours
  (`pki/kubelet-client.crt`, common name `KUBELET_CLIENT_NAME`).
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.certs import CertificateAuthority, rsa_private_key_pem
from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess

Authorization = Literal["AlwaysAllow", "RBAC"]
ADMIN_USER = "sandbox-admin"
KUBELET_CLIENT_NAME = "kube-apiserver-kubelet-client"


def _http_ok(url: str, *, token: str | None = None, context: ssl.SSLContext | None = None) -> bool:
    request = urllib.request.Request(url)  # noqa: S310 - loopback URLs we built ourselves
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Etcd:
    """A single-member etcd with its data in a temp directory, fsync off."""

    def __init__(self, binary: Path, run_dir: Path) -> None:
        self.client_port = free_port()
        self.peer_port = free_port()
        self.url = f"http://{LOOPBACK}:{self.client_port}"
        peer = f"http://{LOOPBACK}:{self.peer_port}"
        self.process = ManagedProcess(
            "etcd",
            [
                str(binary),
                "--name",
                "sandbox",
                "--data-dir",
                str(run_dir / "etcd-data"),
                "--listen-client-urls",
                self.url,
                "--advertise-client-urls",
                self.url,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"sandbox={peer}",
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
            ],
            run_dir / "etcd.log",
        )

    def launch(self) -> None:
        self.process.start()

    def wait_ready(self) -> None:
        self.process.wait_until(
            lambda: _http_ok(f"{self.url}/health"), START_TIMEOUT, "healthy on /health"
        )

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - our own loopback etcd
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result

    def revision(self) -> int:
        """The store's current revision (what a compaction up to now would use)."""
        key = base64.b64encode(b"\0").decode()
        header = self._post("/v3/kv/range", {"key": key, "limit": 1})["header"]
        return int(header["revision"])

    def compact(self, revision: int | None = None) -> int:
        """Compact history up to `revision` (default: now): older watches get 410 Gone."""
        target = self.revision() if revision is None else revision
        self._post("/v3/kv/compaction", {"revision": str(target), "physical": True})
        return target

    def stop(self) -> None:
        self.process.stop()


@dataclass
class ControlPlane:
    """etcd + kube-apiserver, with an admin token and a kubeconfig."""

    assets: EnvtestAssets
    run_dir: Path
    authorization: Authorization = "AlwaysAllow"
    # With the watch cache (the default, as in production) watches are served from the
    # apiserver's memory: bookmarks arrive, and compacting etcd alone expires nothing.
    # Without it every watch goes to etcd, so `etcd.compact()` makes old versions 410.
    watch_cache: bool = True
    # Room for 254 Services; benchmarks with thousands of them pass a larger range.
    service_cluster_ip_range: str = "10.0.0.0/24"
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    port: int = field(default_factory=free_port)
    ca: CertificateAuthority = field(default_factory=CertificateAuthority)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.etcd = Etcd(self.assets.etcd, self.run_dir)
        self.apiserver: ManagedProcess | None = None
        self._write_credentials()

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / "kubeconfig"

    @property
    def pki(self) -> Path:
        """Certificates and keys: `ca.crt`, `sa.key` (service-account signing), ..."""
        return self.run_dir / "pki"

    def _write_credentials(self) -> None:
        pki = self.pki
        self.ca.issue_serving(["localhost", "kubernetes"], [LOOPBACK]).write(
            pki, "apiserver.crt", "apiserver.key"
        )
        self.ca.issue_client(KUBELET_CLIENT_NAME).write(
            pki, "kubelet-client.crt", "kubelet-client.key"
        )
        (pki / "ca.crt").write_bytes(self.ca.cert_pem)
        sa_key = pki / "sa.key"
        sa_key.write_bytes(rsa_private_key_pem())
        sa_key.chmod(0o600)
        tokens = pki / "tokens.csv"
        tokens.write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)
        self.write_kubeconfig(self.kubeconfig)

    def _apiserver_argv(self) -> list[str]:
        pki = self.pki
        return [
            str(self.assets.kube_apiserver),
            f"--etcd-servers={self.etcd.url}",
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.run_dir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={self.service_cluster_ip_range}",
            "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount",
            *self._authorization_args(),
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.key'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--feature-gates=TTLAfterFinished=true",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            f"--watch-cache={'true' if self.watch_cache else 'false'}",
        ]

    def _authorization_args(self) -> list[str]:
        if self.authorization == "AlwaysAllow":
            return ["--authorization-mode=AlwaysAllow"]
        return [
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
        ]

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca.cert_pem.decode())

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start etcd and the API server and return (the API server waits for etcd)."""
        self.etcd.launch()
        self._launch_apiserver()

    def wait_ready(self) -> None:
        self.etcd.wait_ready()
        self._wait_apiserver_ready()

    def start_apiserver(self) -> None:
        """Start (or start again, after `kill_apiserver`) on the same port and etcd."""
        self._launch_apiserver()
        self._wait_apiserver_ready()

    def _launch_apiserver(self) -> None:
        self.apiserver = ManagedProcess(
            "kube-apiserver", self._apiserver_argv(), self.run_dir / "kube-apiserver.log"
        )
        self.apiserver.start()

    def _wait_apiserver_ready(self) -> None:
        assert self.apiserver is not None  # launched first
        context = self._ssl_context()
        self.apiserver.wait_until(
            lambda: _http_ok(f"{self.server}/readyz", token=self.token, context=context),
            START_TIMEOUT,
            "ready on /readyz",
        )

    def kill_apiserver(self) -> None:
        """SIGKILL the apiserver (etcd keeps running): what a crash looks like to clients."""
        if self.apiserver is not None:
            self.apiserver.kill()

    def pids(self) -> list[int]:
        procs = [self.etcd.process, self.apiserver]
        return [p.pid for p in procs if p is not None and p.running()]

    def stop(self) -> None:
        if self.apiserver is not None:
            self.apiserver.stop()
        self.etcd.stop()

    def write_kubeconfig(
        self, path: Path, *, user: str = ADMIN_USER, token: str | None = None
    ) -> Path:
        """A kubeconfig for this server: the admin's token, or `token` (e.g. a
        ServiceAccount's) under the name `user`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "sandbox",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self.ca.cert_pem).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token or self.token}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": user}}],
            "current-context": "sandbox",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

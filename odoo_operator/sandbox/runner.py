"""The sandbox: the whole system on one machine, with no cluster.

`Sandbox.start()` brings the parts up and returns once all of them answer:

1. etcd, kube-apiserver (it waits for etcd itself), PostgreSQL's `initdb` and the S3
   server are launched together;
2. once the API server is ready: the controller manager and the pod simulator are
   launched, our CRDs installed (Established and in discovery) and the operator
   namespace created; then the operator is launched (it needs both);
3. once PostgreSQL and S3 answer: the clusters Secret, the S3 credentials Secret and the
   bucket; then the controller manager's caches and the pod simulator's Node;
4. once the operator's `/readyz` answers: its ValidatingWebhookConfiguration, and a
   dry-run admission request through the API server that our webhook must deny; then
   its leader Lease must be held;
5. the kubeconfig and `sandbox.json`.

Parts run in parallel where they do not depend on each other; each waits in the main
thread, which also starts every process (a child's parent-death signal belongs to the
thread that started it). A stop request is acted on after any process start or wait
(`stop_requested`). `stop()` stops every process that was started, newest first (the
operator while the API server still answers, so it releases its Lease), also after a
failed or interrupted start. Parts can be left out with `without`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.sandbox import install
from odoo_operator.sandbox.assets import find_assets
from odoo_operator.sandbox.controllermanager import ControllerManager
from odoo_operator.sandbox.controlplane import Authorization, ControlPlane
from odoo_operator.sandbox.operator import OperatorProcess
from odoo_operator.sandbox.podsim.launcher import PodSimulator
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server

OPERATOR_NAMESPACE = "odoo-operator"
CLUSTERS_SECRET = "postgres-clusters"  # noqa: S105 - a Secret's name
S3_SECRET = "s3-credentials"  # noqa: S105 - a Secret's name
BUCKET = "backups"
# What `--without` may leave out; docs/sandbox.md says what each absence implies.
OPTIONAL_PARTS = ("operator", "kubelet", "controller-manager", "postgres", "s3")
# The image name whose containers the pod simulator runs for real (the operator's own).
SANDBOX_OPERATOR_IMAGE = "odoo-operator:sandbox"
# The Lease `odoo-operator run` elects its leader with (the runtime's default name).
LEADER_LEASE = ManagerOptions().lease_name


class Part(Protocol):
    def launch(self) -> None: ...
    def wait_ready(self) -> None: ...
    def pids(self) -> list[int]: ...
    def stop(self) -> None: ...


@dataclass
class Sandbox:
    run_dir: Path
    kubeconfig_out: Path
    without: frozenset[str] = frozenset()
    authorization: Authorization = "AlwaysAllow"
    build_assets: bool = False
    operator_image: str = SANDBOX_OPERATOR_IMAGE
    stop_requested: Callable[[], bool] = lambda: False
    """Checked after each process start and wait: a stop request whose KeyboardInterrupt
    Python dropped (inside a fork hook, `command.StopRequest`) ends start-up there."""
    control_plane: ControlPlane | None = field(default=None, init=False)
    controller_manager: ControllerManager | None = field(default=None, init=False)
    postgres: PostgresServer | None = field(default=None, init=False)
    s3: S3Server | None = field(default=None, init=False)
    pod_simulator: PodSimulator | None = field(default=None, init=False)
    operator: OperatorProcess | None = field(default=None, init=False)
    _started: list[Part] = field(default_factory=list, init=False)
    _began: float = field(default=0.0, init=False)

    @property
    def kubeconfig(self) -> Path:
        return self.kubeconfig_out

    @property
    def info_path(self) -> Path:
        return self.kubeconfig_out.parent / "sandbox.json"

    def _launch(self, part: Part) -> None:
        self._started.append(part)  # before launching: stop() must see a half-started part
        part.launch()
        self._stop_if_requested()

    def _stop_if_requested(self) -> None:
        if self.stop_requested():
            raise KeyboardInterrupt

    def _say(self, message: str) -> None:
        elapsed = time.monotonic() - self._began
        print(f"[sandbox] {elapsed:5.1f} s  {message}", file=sys.stderr, flush=True)

    def _wait(self, name: str, part: Part | None) -> None:
        if part is not None:
            part.wait_ready()
            self._stop_if_requested()
            self._say(f"{name} ready")

    def start(self) -> None:
        """Blocking: start every part, install and seed, return once everything answers."""
        self._began = time.monotonic()
        with_controller_manager = "controller-manager" not in self.without
        assets = find_assets(build=self.build_assets, controller_manager=with_controller_manager)
        plane = ControlPlane(
            assets, self.run_dir / "controlplane", authorization=self.authorization
        )
        self.control_plane = plane
        self._launch(plane)
        if "s3" not in self.without:
            self.s3 = S3Server(self.run_dir / "s3")
            self._launch(self.s3)
        if "postgres" not in self.without:
            self.postgres = PostgresServer(self.run_dir / "postgres")
            self._launch(self.postgres)
        self._wait("etcd and kube-apiserver", plane)
        if with_controller_manager:
            assert assets.kube_controller_manager is not None  # asked of find_assets
            self.controller_manager = ControllerManager(
                assets.kube_controller_manager, plane, plane.run_dir
            )
            self._launch(self.controller_manager)
        if "kubelet" not in self.without:
            self.pod_simulator = PodSimulator(plane, self.run_dir / "kubelet", self.operator_image)
            self._launch(self.pod_simulator)
        self._run(self._install_api)
        self._say(f"CRDs established, namespace {OPERATOR_NAMESPACE}")
        if "operator" not in self.without:
            self.operator = OperatorProcess(
                plane,
                self.run_dir / "operator",
                operator_image=self.operator_image,
                operator_namespace=OPERATOR_NAMESPACE,
                clusters_secret=CLUSTERS_SECRET,
            )
            self._say(f"operator log: {self.operator.log_path}")
            self._launch(self.operator)
        self._wait("PostgreSQL", self.postgres)
        self._wait("S3", self.s3)
        self._run(self._seed)
        self._wait("kube-controller-manager", self.controller_manager)
        self._wait("pod simulator", self.pod_simulator)
        if self.operator is not None:
            self._wait("operator", self.operator)
            self._run(self._connect_operator)
            self._say("webhook answers through the API server; the operator holds its Lease")
        plane.write_kubeconfig(self.kubeconfig_out)
        self._write_info()

    def _run(self, step: Callable[[ApiClient], Awaitable[None]]) -> None:
        """Run one step of API calls with a client of its own, in this thread."""

        async def with_client() -> None:
            assert self.control_plane is not None
            api = await new_client_from_config(config_file=str(self.control_plane.kubeconfig))
            async with api:
                await step(api)

        asyncio.run(with_client())

    async def _install_api(self, api: ApiClient) -> None:
        await install.install_crds(api)
        await install.ensure_namespace(api, OPERATOR_NAMESPACE)

    async def _seed(self, api: ApiClient) -> None:
        """What an installation has besides the CRDs: secrets and the bucket."""
        if self.postgres is not None:
            clusters = {
                "main": {
                    "host": self.postgres.host,
                    "port": self.postgres.port,
                    "adminUser": self.postgres.user,
                    "adminPassword": self.postgres.password,
                    "default": True,
                }
            }
            clusters_yaml = {"clusters.yaml": yaml.safe_dump(clusters)}
            await install.ensure_secret(api, OPERATOR_NAMESPACE, CLUSTERS_SECRET, clusters_yaml)
        if self.s3 is not None:
            await install.ensure_secret(
                api,
                OPERATOR_NAMESPACE,
                S3_SECRET,
                {
                    "accessKey": self.s3.access_key,
                    "secretKey": self.s3.secret_key,
                    "endpoint": self.s3.endpoint,
                },
            )
            await install.create_bucket(self.s3, BUCKET)

    async def _connect_operator(self, api: ApiClient) -> None:
        assert self.operator is not None
        await install.register_webhook(api, self.operator.webhook_configuration())
        await install.wait_until_admission_answers(api, OPERATOR_NAMESPACE)
        await install.wait_until_lease_held(api, OPERATOR_NAMESPACE, LEADER_LEASE)

    def info(self) -> dict[str, Any]:
        assert self.control_plane is not None
        operator = self.operator
        return {
            "apiserver": self.control_plane.server,
            "kubeconfig": str(self.kubeconfig_out.resolve()),
            "postgres": None
            if self.postgres is None
            else {
                "host": self.postgres.host,
                "port": self.postgres.port,
                "user": self.postgres.user,
                "password": self.postgres.password,
            },
            "s3": None if self.s3 is None else {"endpoint": self.s3.endpoint, "bucket": BUCKET},
            "operatorImage": self.operator_image,
            "kubelet": None
            if self.pod_simulator is None
            else {"node": self.pod_simulator.node_name, "endpoint": self.pod_simulator.endpoint},
            "metrics": None if operator is None else operator.metrics_url,
            "health": None if operator is None else operator.health_url,
            "webhook": None if operator is None else operator.webhook_url,
            "ca": str(self.control_plane.pki / "ca.crt"),
            "logs": str(self.run_dir),
        }

    def _write_info(self) -> None:
        self.info_path.write_text(json.dumps(self.info(), indent=2) + "\n")
        self.info_path.chmod(0o600)  # holds the PostgreSQL password

    def pids(self) -> list[int]:
        return [pid for part in self._started for pid in part.pids()]

    def stop(self) -> None:
        """Stop everything we started, newest first; keep the logs, drop the data."""
        for part in reversed(self._started):
            part.stop()
        self._started.clear()
        shutil.rmtree(self.run_dir / "controlplane" / "etcd-data", ignore_errors=True)
        print(f"sandbox stopped; logs in {self.run_dir}", file=sys.stderr, flush=True)

"""The sandbox: the whole system on one machine, with no cluster.

`Sandbox.start_processes()` brings up the parts in dependency order (control plane,
controller manager, PostgreSQL, S3, then the pod simulator, whose containers use the
last two), `seed()` fills the cluster with what an installation has (namespace
`odoo-operator`, the clusters secret, the S3 credentials secret and bucket) and writes
the kubeconfig and `sandbox.json`. `Sandbox.stop()` stops every process it started, in
reverse order, by PID. Parts can be left out with `without`.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient, CoreV1Api
from kubernetes_asyncio.client.rest import ApiException
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.sandbox.assets import find_assets
from odoo_operator.sandbox.controllermanager import ControllerManager
from odoo_operator.sandbox.controlplane import Authorization, ControlPlane
from odoo_operator.sandbox.podsim.launcher import PodSimulator
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server

OPERATOR_NAMESPACE = "odoo-operator"
CLUSTERS_SECRET = "postgres-clusters"  # noqa: S105 - a Secret's name
S3_SECRET = "s3-credentials"  # noqa: S105 - a Secret's name
BUCKET = "backups"
OPTIONAL_PARTS = ("controller-manager", "kubelet", "postgres", "s3")
# The image name whose containers the pod simulator runs for real (the operator's own).
SANDBOX_OPERATOR_IMAGE = "odoo-operator:sandbox"
REQUEST_TIMEOUT = 30


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


@dataclass
class Sandbox:
    run_dir: Path
    kubeconfig_out: Path
    without: frozenset[str] = frozenset()
    authorization: Authorization = "AlwaysAllow"
    build_assets: bool = False
    operator_image: str = SANDBOX_OPERATOR_IMAGE
    control_plane: ControlPlane | None = field(default=None, init=False)
    controller_manager: ControllerManager | None = field(default=None, init=False)
    postgres: PostgresServer | None = field(default=None, init=False)
    s3: S3Server | None = field(default=None, init=False)
    pod_simulator: PodSimulator | None = field(default=None, init=False)

    @property
    def info_path(self) -> Path:
        return self.kubeconfig_out.parent / "sandbox.json"

    def start_processes(self) -> None:
        """Blocking: start each server and wait until it answers."""
        with_controller_manager = "controller-manager" not in self.without
        assets = find_assets(build=self.build_assets, controller_manager=with_controller_manager)
        self.control_plane = ControlPlane(
            assets, self.run_dir / "controlplane", authorization=self.authorization
        )
        self.control_plane.start()
        if with_controller_manager:
            assert assets.kube_controller_manager is not None  # asked of find_assets
            self.controller_manager = ControllerManager(
                assets.kube_controller_manager, self.control_plane, self.run_dir / "controlplane"
            )
            self.controller_manager.start()
        if "postgres" not in self.without:
            self.postgres = PostgresServer(self.run_dir / "postgres")
            self.postgres.start()
        if "s3" not in self.without:
            self.s3 = S3Server(self.run_dir / "s3")
            self.s3.start()
        if "kubelet" not in self.without:
            self.pod_simulator = PodSimulator(
                self.control_plane, self.run_dir / "kubelet", self.operator_image
            )
            self.pod_simulator.start()
        self.control_plane.write_kubeconfig(self.kubeconfig_out)

    async def seed(self) -> None:
        """Create what an installation has: operator namespace, secrets, bucket."""
        assert self.control_plane is not None
        api = await new_client_from_config(config_file=str(self.control_plane.kubeconfig))
        async with api:
            await _ensure_namespace(api, OPERATOR_NAMESPACE)
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
                await _ensure_secret(
                    api,
                    OPERATOR_NAMESPACE,
                    CLUSTERS_SECRET,
                    {"clusters.yaml": yaml.safe_dump(clusters)},
                )
            if self.s3 is not None:
                await _ensure_secret(
                    api,
                    OPERATOR_NAMESPACE,
                    S3_SECRET,
                    {
                        "accessKey": self.s3.access_key,
                        "secretKey": self.s3.secret_key,
                        "endpoint": self.s3.endpoint,
                    },
                )
        if self.s3 is not None:
            await create_bucket(self.s3, BUCKET)
        self._write_info()

    def info(self) -> dict[str, Any]:
        assert self.control_plane is not None
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
            "metrics": None,
            "health": None,
            "webhook": None,
            "logs": str(self.run_dir),
        }

    def _write_info(self) -> None:
        self.info_path.write_text(json.dumps(self.info(), indent=2) + "\n")
        self.info_path.chmod(0o600)  # holds the PostgreSQL password

    def _parts(
        self,
    ) -> list[ControlPlane | ControllerManager | PostgresServer | S3Server | PodSimulator]:
        """The parts that were started, oldest first."""
        parts = (
            self.control_plane,
            self.controller_manager,
            self.postgres,
            self.s3,
            self.pod_simulator,
        )
        return [part for part in parts if part is not None]

    def pids(self) -> list[int]:
        return [pid for part in self._parts() for pid in part.pids()]

    def stop(self) -> None:
        """Stop everything we started, newest first; keep the logs, drop the data."""
        for part in reversed(self._parts()):
            part.stop()
        shutil.rmtree(self.run_dir / "controlplane" / "etcd-data", ignore_errors=True)
        print(f"sandbox stopped; logs in {self.run_dir}", file=sys.stderr, flush=True)


async def _ensure_namespace(api: ApiClient, name: str) -> None:
    try:
        await CoreV1Api(api).create_namespace(
            {"metadata": {"name": name}}, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as error:
        if error.status != 409:
            raise


async def _ensure_secret(api: ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in data.items()},
    }
    core = CoreV1Api(api)
    try:
        await core.create_namespaced_secret(namespace, body, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status != 409:
            raise
        await core.replace_namespaced_secret(
            name, namespace, body, _request_timeout=REQUEST_TIMEOUT
        )


async def create_bucket(s3: S3Server, bucket: str) -> None:
    async with s3.client() as client:
        await client.create_bucket(Bucket=bucket)

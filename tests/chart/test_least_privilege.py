"""Least privilege, on an API server that enforces RBAC: the chart's roles are enough for
an instance's whole life, and every verb of them is needed.

One RBAC-enforcing control plane (`Node,RBAC` and `OwnerReferencesPermissionEnforcement`)
for the module, with the chart rendered as docs/install.md installs it: its CRDs,
ServiceAccount, ClusterRole, Role and bindings applied, the clusters Secret written as
docs/install.md step 1 does. Each test gives the ServiceAccount a set of rights, runs
`odoo-operator run` as a fresh local process with the Deployment's args and env
(`tests.chart.deployed`) and a token of that ServiceAccount, and drives the lifecycle of
`tests.chart.lifecycle` in a fresh namespace:
- with the chart's rights: every step done, no 403 in the log;
- with one verb of one rule removed (one test each): the log shows a 403 that names that
  verb and resource. A refusal ends the run at once; no step is waited out.
The tests share the server and its ServiceAccount, so they run one after the other in one
xdist worker (`--dist loadgroup`).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from kubernetes_asyncio.client import (
    ApiClient,
    AuthorizationV1Api,
    CoordinationV1Api,
    CoreV1Api,
    CustomObjectsApi,
)
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import new_client_from_config

from odoo_operator.api.base import GROUP, VERSION
from odoo_operator.api.crd import CRD_KINDS
from odoo_operator.run.permissions import CLUSTER_RULES, LEASE_RULES, Rule
from odoo_operator.sandbox.assets import EnvtestAssets
from odoo_operator.sandbox.controlplane import ControlPlane
from odoo_operator.sandbox.ports import free_port
from odoo_operator.sandbox.postgres import PostgresServer
from tests.chart import lifecycle
from tests.chart.conftest import CHART, helm
from tests.chart.deployed import Permission, operator_command, permissions, without
from tests.chart.tools import ChartTools
from tests.conftest import CHART_CRDS
from tests.events import list_events
from tests.kubectl import kubectl
from tests.runtime.helpers import eventually_equal

# Each test runs an instance through real Jobs, step by step (lifecycle.STEP_TIMEOUT each).
pytestmark = [pytest.mark.xdist_group("least-privilege"), pytest.mark.timeout(1200)]

RELEASE = NAMESPACE = "odoo-operator"  # docs/install.md: `helm upgrade --install` there
INSTALL_SETS = ("defaults.ingressClass=nginx", "defaults.ingressIssuer=letsencrypt-prod")
SERVICE_ACCOUNT = "odoo-operator"
SUBJECT = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
LEASE = "odoo-operator-leader"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
STOP_GRACE = 40  # the Deployment's terminationGracePeriodSeconds


def _expanded(kind: str, rules: tuple[Rule, ...]) -> list[Permission]:
    return permissions(
        {
            "kind": kind,
            "rules": [
                {"apiGroups": [r.api_group], "resources": list(r.names), "verbs": list(r.verbs)}
                for r in rules
            ],
        }
    )


# Every verb of every rule the chart grants (checked against the render below).
PERMISSIONS = _expanded("ClusterRole", CLUSTER_RULES) + _expanded("Role", LEASE_RULES)

# Verbs only a path off the lifecycle uses (a crash, a race, a long history, credentials
# in another namespace): needed, but removing one cannot show in the lifecycle's log.
# Each is named with the path; a test below keeps this list inside PERMISSIONS.
OFF_LIFECYCLE = {
    Permission("ClusterRole", "bemade.org", "odooinstances", "get"): "job controller, cache miss",
    **{
        Permission("ClusterRole", "bemade.org", plural, "delete"): "history beyond the limit"
        for plural in ("odooinitjobs", "odooupgradejobs", "odoobackupjobs", "odoorestorejobs")
    },
    Permission("ClusterRole", "", "secrets", "delete"): "S3 credentials copied from elsewhere",
    Permission("ClusterRole", "batch", "jobs", "get"): "a batch Job adopted after a crash",
    Permission("ClusterRole", "batch", "jobs", "delete"): "instance deleted while a job runs",
    # The rollback of an upgrade with backupFirst that failed (tests/jobs/test_backup_first.py,
    # tests/sandbox/test_backup_first.py); OdooBackupJobs are created by the schedule and
    # upgrade steps.
    Permission("ClusterRole", "bemade.org", "odoorestorejobs", "create"): "upgrade rollback",
}


@dataclass(frozen=True)
class Installed:
    plane: ControlPlane
    roles: dict[str, dict[str, Any]]  # kind -> the rendered ClusterRole / Role
    deployment: dict[str, Any]
    kubeconfig: Path  # the ServiceAccount's token
    cert_dir: Path


def _apply(kubeconfig: Path, objects: list[dict[str, Any]]) -> None:
    stream = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=stream)


@pytest.fixture(scope="module")
def installed(
    envtest_assets: EnvtestAssets,
    tmp_path_factory: pytest.TempPathFactory,
    tools: ChartTools,
    postgres_server: PostgresServer,
) -> Iterator[Installed]:
    directory = tmp_path_factory.mktemp("least-privilege")
    plane = ControlPlane(envtest_assets, directory / "controlplane", authorization="RBAC")
    try:
        plane.start()
        admin = plane.kubeconfig
        kubectl(admin, "apply", "--server-side", "-f", str(CHART_CRDS))
        for kind in CRD_KINDS:
            kubectl(admin, "wait", "--for=condition=Established", f"crd/{kind.name}")
        kubectl(admin, "create", "namespace", NAMESPACE)
        sets = [arg for value in INSTALL_SETS for arg in ("--set", value)]
        rendered = helm(tools, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *sets)
        manifests = [m for m in yaml.safe_load_all(rendered.stdout) if m]
        _apply(admin, [m for m in manifests if m["kind"] in RBAC_KINDS])
        clusters = {
            "main": {
                "host": postgres_server.host,
                "port": postgres_server.port,
                "adminUser": postgres_server.user,
                "adminPassword": postgres_server.password,
                "default": True,
            }
        }
        clusters_file = directory / "clusters.yaml"
        clusters_file.write_text(yaml.safe_dump(clusters))
        kubectl(
            admin, "create", "secret", "generic", "postgres-clusters", "-n", NAMESPACE,
            f"--from-file=clusters.yaml={clusters_file}",
        )  # fmt: skip
        token = kubectl(
            admin, "create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration=2h"
        ).stdout.strip()
        kubeconfig = plane.write_kubeconfig(
            directory / "operator.kubeconfig", user=SUBJECT, token=token
        )
        cert_dir = directory / "serving-certs"
        plane.ca.issue_serving(["localhost"], ["127.0.0.1"]).write(cert_dir)
        roles = {m["kind"]: m for m in manifests if m["kind"] in ("ClusterRole", "Role")}
        (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
        yield Installed(plane, roles, deployment, kubeconfig, cert_dir)
    finally:
        plane.stop()


@pytest.fixture
async def admin(installed: Installed) -> AsyncIterator[ApiClient]:
    client = await new_client_from_config(config_file=str(installed.plane.kubeconfig))
    async with client:
        yield client


@dataclass
class Hook:
    """Receives the instance's notifications; keeps the Authorization headers."""

    url: str
    tokens: list[str | None]


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    port = free_port()
    received = Hook(f"http://127.0.0.1:{port}/hook", [])

    async def answer(request: web.Request) -> web.Response:
        received.tokens.append(request.headers.get("Authorization"))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield received
    finally:
        await runner.cleanup()


async def _allowed(api: ApiClient, permission: Permission, namespace: str) -> bool:
    resource, _, subresource = permission.resource.partition("/")
    review = {
        "spec": {
            "user": SUBJECT,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}"],
            "resourceAttributes": {
                "group": permission.api_group,
                "resource": resource,
                "subresource": subresource,
                "verb": permission.verb,
                "namespace": NAMESPACE if permission.role == "Role" else namespace,
            },
        }
    }
    answer = await AuthorizationV1Api(api).create_subject_access_review(review)
    return bool(answer.status.allowed)


async def _grant(
    installed: Installed, api: ApiClient, namespace: str, removed: Permission | None
) -> None:
    """Give the ServiceAccount the chart's rights but `removed`; return once in force."""
    roles = [
        without(role, removed) if removed and removed.role == kind else role
        for kind, role in installed.roles.items()
    ]
    _apply(installed.plane.kubeconfig, roles)
    wanted = [permission != removed for permission in PERMISSIONS]

    async def in_force() -> list[bool]:
        checks = (_allowed(api, permission, namespace) for permission in PERMISSIONS)
        return list(await asyncio.gather(*checks))

    await eventually_equal(in_force, wanted)


async def _no_lease(api: ApiClient) -> None:
    """A killed predecessor's Lease would hold the next operator back for 15 s."""
    try:
        await CoordinationV1Api(api).delete_namespaced_lease(LEASE, NAMESPACE)
    except ApiException as error:
        if error.status != 404:
            raise


def _start(installed: Installed, log: Path) -> subprocess.Popen[bytes]:
    argv, env = operator_command(
        installed.deployment,
        kubeconfig=installed.kubeconfig,
        ports=(free_port(), free_port(), free_port()),
        cert_dir=installed.cert_dir,
        environ=dict(os.environ),
    )
    with log.open("ab") as output:
        return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as the kubelet does; SIGKILL after the grace period."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _clear(api: ApiClient, namespace: str) -> None:
    """Leave nothing for the next run's operator (it watches every namespace): our kinds
    in `namespace` deleted, finalizers dropped. Children stay, with no owner left."""
    objects = CustomObjectsApi(api)
    for plural in (kind.model.PLURAL for kind in CRD_KINDS):
        listed = await objects.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        for item in listed["items"]:
            name = item["metadata"]["name"]
            if item["metadata"].get("finalizers"):
                await objects.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name,
                    {"metadata": {"finalizers": None}},
                    _content_type=lifecycle.MERGE_PATCH,
                )  # fmt: skip
            try:
                await objects.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name
                )
            except ApiException as error:
                if error.status != 404:
                    raise


@dataclass
class Runs:
    """Runs of the lifecycle on the installed chart, as an admin, notifying `hook`."""

    installed: Installed
    api: ApiClient
    hook: Hook
    postgres: PostgresServer

    async def run(
        self, log: Path, removed: Permission | None
    ) -> tuple[lifecycle.Lifecycle, lifecycle.Forbidden | None]:
        """The lifecycle with the chart's rights but `removed`; the operator stopped after."""
        api = self.api
        namespace = f"lp-{secrets.token_hex(4)}"
        await CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        await _grant(self.installed, api, namespace, removed)
        await _no_lease(api)
        run = lifecycle.Lifecycle(api, namespace, log, self.postgres, self.hook.url)
        refused = None
        process = _start(self.installed, log)
        try:
            await lifecycle.run(run)
        except lifecycle.Forbidden as error:
            refused = error
        finally:
            _stop(process)
            await _clear(api, namespace)
        return run, refused


@pytest.fixture
async def runs(
    installed: Installed, admin: ApiClient, hook: Hook, postgres_server: PostgresServer
) -> Runs:
    return Runs(installed, admin, hook, postgres_server)


def test_the_chart_grants_exactly_the_listed_permissions(installed: Installed) -> None:
    rendered = permissions(installed.roles["ClusterRole"]) + permissions(installed.roles["Role"])
    assert rendered == PERMISSIONS


async def _series_counted(api: ApiClient, namespace: str) -> bool:
    events = await list_events(api, namespace)
    return any(e.reason == "PhaseChanged" and e.series_count >= 2 for e in events)


async def test_the_chart_s_rights_carry_an_instance_through_its_life(
    runs: Runs, tmp_path: Path
) -> None:
    log = tmp_path / "operator.log"
    run, refused = await runs.run(log, None)
    assert refused is None, str(refused)
    assert run.done == [step.__name__ for step in lifecycle.STEPS]
    assert lifecycle.refused_lines(log) == []  # nor while stopping
    assert f"Bearer {lifecycle.HOOK_TOKEN}" in runs.hook.tokens  # the token Secret was read
    assert await _series_counted(runs.api, run.namespace)  # an Event series was patched
    assert '"became leader"' in log.read_text()


def test_off_lifecycle_verbs_are_granted_ones() -> None:
    assert set(OFF_LIFECYCLE) <= set(PERMISSIONS), set(OFF_LIFECYCLE) - set(PERMISSIONS)


@pytest.mark.parametrize("removed", [p for p in PERMISSIONS if p not in OFF_LIFECYCLE], ids=str)
async def test_without_any_one_verb_the_operator_is_refused(
    runs: Runs, tmp_path: Path, removed: Permission
) -> None:
    log = tmp_path / "operator.log"
    run, _ = await runs.run(log, removed)
    refused = lifecycle.refused_lines(log)
    assert refused, f"{removed} removed, yet no request was refused (steps done: {run.done})"
    # The refusal names what was removed: its resource, or the subresource (the server's
    # words vary: an apply that would create is refused without a reason, the admission
    # plugin speaks of "finalizers", the notifier logs "webhook token Secret").
    stem = removed.resource.rsplit("/", 1)[-1].removesuffix("s").lower()
    assert any(stem in line.lower() for line in refused), "\n".join(refused)

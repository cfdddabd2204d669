"""Every child's shape (SPEC §4) read back from the API server, and no write at rest."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from kubernetes_asyncio.client import AppsV1Api, CoreV1Api, NetworkingV1Api, StorageV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from odoo_operator.controllers.instance import names
from odoo_operator.runtime.objects import ObjectKey
from odoo_operator.runtime.resources import PERSISTENT_VOLUME_CLAIMS
from odoo_operator.sandbox.postgres import PostgresServer
from tests.instance.conftest import Operator
from tests.runtime.helpers import eventually, sample, total

HOSTS = ["shop.example.com", "www.shop.example.com"]
TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "odoo", "effect": "NoSchedule"}
SPEC: dict[str, Any] = {
    "replicas": 1,
    "ingress": {"hosts": HOSTS, "issuer": "le", "class": "nginx"},
    "resources": {"limits": {"cpu": 1, "memory": "2048Mi"}, "requests": {"cpu": "0.5"}},
    "tolerations": [TOLERATION],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "0%"}},
    "probes": {"readinessPath": "/web/login"},
    "configOptions": {"workers": "4", "list_db": "True"},
    "cron": {"replicas": 1, "resources": {"limits": {"memory": "1Gi"}}},
    "environment": "Production",
    "extraEnv": [{"name": "EMPTY", "value": ""}, {"name": "MODE", "value": "x"}],
    "extraEnvFrom": [{"configMapRef": {"name": "extra"}}],
    "adminPassword": "master-secret-1",
}  # fmt: skip


async def until(probe: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, f"{probe.__name__} not reached"
        await asyncio.sleep(0.1)


def _secret_text(secret: Any, key: str) -> str:
    return base64.b64decode(secret.data[key]).decode()


def _owned(metadata: Any, uid: str) -> None:
    (reference,) = metadata.owner_references
    assert (reference.kind, reference.uid, reference.controller) == ("OdooInstance", uid, True)
    assert metadata.labels[names.MANAGED_BY] == "odoo-operator"


async def test_every_child_has_its_shape_and_nothing_is_rewritten(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    await operator.create("shop", SPEC)
    obj = await operator.wait_for_phase("shop", "Uninitialized")
    uid, ns = obj["metadata"]["uid"], operator.namespace
    core, apps = CoreV1Api(operator.api), AppsV1Api(operator.api)
    role = f"odoo.{ns}.shop"

    user = await core.read_namespaced_secret("shop-odoo-user", ns)
    _owned(user.metadata, uid)
    password = _secret_text(user, "password")
    assert _secret_text(user, "username") == role
    assert len(password) >= 32
    assert "admin-password" not in user.data  # spec.adminPassword is set

    conf_secret = await core.read_namespaced_secret("shop-odoo-conf", ns)
    _owned(conf_secret.metadata, uid)
    conf = _secret_text(conf_secret, "odoo.conf")
    database = obj["spec"]["database"]["name"]
    assert conf.splitlines() == [
        "[options]",
        "data_dir = /var/lib/odoo",
        "proxy_mode = True",
        "addons_path = /mnt/extra-addons,/usr/lib/python3/dist-packages/odoo/addons",
        f"db_host = {postgres_server.host}",
        f"db_port = {postgres_server.port}",
        f"db_name = {database}",
        f"db_user = {role}",
        f"db_password = {password}",
        "list_db = True",  # configOptions override a built-in where it stands
        f"dbfilter = ^{database}$",
        "http_port = 8069",
        "gevent_port = 8072",
        "max_cron_threads = 2",
        "admin_passwd = master-secret-1",
        "workers = 4",
    ]

    pvc = await core.read_namespaced_persistent_volume_claim("shop-filestore-pvc", ns)
    _owned(pvc.metadata, uid)
    assert pvc.spec.access_modes == ["ReadWriteMany"]
    assert pvc.spec.storage_class_name == "standard"
    assert pvc.spec.resources.requests == {"storage": "2Gi"}

    service = await core.read_namespaced_service("shop", ns)
    _owned(service.metadata, uid)
    assert service.spec.type == "ClusterIP"
    assert service.spec.selector == {"app": "shop"}
    assert [(p.name, p.port, p.target_port) for p in service.spec.ports] == [
        ("http", 8069, 8069),
        ("websocket", 8072, 8072),
    ]

    ingress = await NetworkingV1Api(operator.api).read_namespaced_ingress("shop", ns)
    _owned(ingress.metadata, uid)
    assert ingress.metadata.annotations["cert-manager.io/cluster-issuer"] == "le"
    assert ingress.spec.ingress_class_name == "nginx"
    assert [r.host for r in ingress.spec.rules] == SPEC["ingress"]["hosts"]
    for rule in ingress.spec.rules:
        assert [(p.path, p.backend.service.port.number) for p in rule.http.paths] == [
            ("/websocket", 8072),
            ("/", 8069),
        ]
    assert ingress.spec.tls[0].secret_name == "shop-tls"
    assert ingress.spec.tls[0].hosts == SPEC["ingress"]["hosts"]

    web = await apps.read_namespaced_deployment("shop", ns)
    cron = await apps.read_namespaced_deployment("shop-cron", ns)
    for deployment in (web, cron):
        _owned(deployment.metadata, uid)
        pod = deployment.spec.template.spec
        assert deployment.spec.replicas == 0  # the database is not initialized yet
        assert (pod.security_context.run_as_user, pod.security_context.run_as_group) == (100, 101)
        assert pod.security_context.fs_group == 101
        assert [t.key for t in pod.tolerations] == ["dedicated"]
        assert pod.affinity.pod_anti_affinity is not None
        assert pod.volumes[0].persistent_volume_claim.claim_name == "shop-filestore-pvc"
        assert pod.volumes[1].secret.secret_name == "shop-odoo-conf"
        (container,) = pod.containers
        assert container.image == "odoo:18.0"
        assert [(m.name, m.mount_path) for m in container.volume_mounts] == [
            ("filestore", "/var/lib/odoo"),
            ("conf", "/etc/odoo"),
        ]
        assert [(e.name, e.value) for e in container.env] == [("EMPTY", None), ("MODE", "x")]
        assert container.env_from[0].config_map_ref.name == "extra"
        labels = deployment.spec.template.metadata.labels
        assert labels["bemade.org/environment"] == "Production"
        assert deployment.spec.template.metadata.annotations["bemade.org/odoo-conf-hash"] == (
            hashlib.sha256(conf.encode()).hexdigest()
        )
    web_container, cron_container = (
        web.spec.template.spec.containers[0],
        cron.spec.template.spec.containers[0],
    )
    assert web.spec.selector.match_labels == {"app": "shop"}
    assert cron.spec.selector.match_labels == {"app": "shop-cron"}
    assert web_container.args == ["--config", "/etc/odoo/odoo.conf", "--max-cron-threads", "0"]
    assert cron_container.args == ["--config", "/etc/odoo/odoo.conf", "--no-http"]
    assert [(p.name, p.container_port) for p in web_container.ports] == [
        ("http", 8069),
        ("websocket", 8072),
    ]
    assert cron_container.ports is None
    assert web_container.readiness_probe.http_get.path == "/web/login"
    assert web_container.liveness_probe.http_get.path == "/web/health"
    assert web_container.startup_probe.http_get.port == 8069
    assert cron_container.readiness_probe is None
    assert cron_container.liveness_probe is None
    assert web_container.resources.limits == {"cpu": "1", "memory": "2Gi"}
    assert web_container.resources.requests == {"cpu": "500m"}
    assert cron_container.resources.limits == {"memory": "1Gi"}
    assert web.spec.strategy.type == "RollingUpdate"
    assert (
        web.spec.strategy.rolling_update.max_surge,
        web.spec.strategy.rolling_update.max_unavailable,
    ) == (1, "0%")
    assert cron.spec.strategy.type == "Recreate"

    # The role exists, LOGIN CREATEDB, and logs in with the Secret's password.
    connection = await asyncpg.connect(
        host=postgres_server.host,
        port=postgres_server.port,
        user=role,
        password=password,
        database="postgres",
    )
    try:
        row = await connection.fetchrow(
            "SELECT rolcanlogin, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(row) == (True, True)
    finally:
        await connection.close()

    # At rest: a resync of everything reconciles again and writes nothing.
    registry = operator.manager.metrics.registry
    sent = total(registry, "applier_applies_total", result="sent")
    requests = total(registry, "rest_client_requests_total", method="PATCH") + total(
        registry, "rest_client_requests_total", method="POST"
    )
    before = total(registry, "controller_runtime_reconcile_total", controller="odooinstance")
    for informer in operator.manager.informers.all():
        informer.resync()
    await eventually(
        lambda: (
            total(registry, "controller_runtime_reconcile_total", controller="odooinstance")
            > before
        ),
        what="resync reconciled",
    )
    await eventually(
        lambda: (
            len(operator.manager.controllers[0].queue) == 0
            and sample(registry, "controller_runtime_active_workers", controller="odooinstance")
            == 0
        ),
        what="idle",
    )
    assert total(registry, "applier_applies_total", result="sent") == sent
    assert (
        total(registry, "rest_client_requests_total", method="PATCH")
        + total(registry, "rest_client_requests_total", method="POST")
        == requests
    )


async def test_storage_growth_expands_the_pvc_and_a_conf_change_rolls_the_pods(
    operator: Operator,
) -> None:
    await operator.create("shop", {"ingress": {"hosts": ["shop.example.com"]}})
    await operator.wait_for_phase("shop", "Uninitialized")
    core, apps = CoreV1Api(operator.api), AppsV1Api(operator.api)
    ns = operator.namespace
    # Play the volume binder: expansion is only allowed for a bound claim whose class allows it.
    with contextlib.suppress(ApiException):  # another test made it
        await StorageV1Api(operator.api).create_storage_class(
            {"metadata": {"name": "standard"}, "provisioner": "x", "allowVolumeExpansion": True}
        )
    await core.patch_namespaced_persistent_volume_claim_status(
        "shop-filestore-pvc",
        ns,
        {"status": {"phase": "Bound"}},
        _content_type="application/merge-patch+json",
    )
    before = await apps.read_namespaced_deployment("shop", ns)
    old_hash = before.spec.template.metadata.annotations["bemade.org/odoo-conf-hash"]

    await operator.patch(
        "shop", {"filestore": {"storageSize": "5Gi"}, "configOptions": {"workers": "2"}}
    )

    async def grown() -> bool:
        pvc = await core.read_namespaced_persistent_volume_claim("shop-filestore-pvc", ns)
        return bool(pvc.spec.resources.requests["storage"] == "5Gi")

    async def rolled() -> bool:
        web = await apps.read_namespaced_deployment("shop", ns)
        return bool(web.spec.template.metadata.annotations["bemade.org/odoo-conf-hash"] != old_hash)

    for probe in (grown, rolled):
        await until(probe)
    # Smaller again (the webhook refuses it; the controller never shrinks a claim).
    await operator.patch("shop", {"filestore": {"storageSize": "1Gi"}, "replicas": 2})
    await operator.wait_for(
        "shop",
        lambda obj: obj["status"].get("observedGeneration") == obj["metadata"]["generation"],
        "reconciled",
    )
    pvcs = operator.manager.lister(PERSISTENT_VOLUME_CLAIMS, label_selector=names.CHILD_SELECTOR)
    pvc = pvcs.get(ObjectKey(ns, "shop-filestore-pvc"))
    assert pvc is not None
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"

    # Hosts removed: the Ingress goes.
    await operator.patch("shop", {"ingress": None})
    networking = NetworkingV1Api(operator.api)

    async def no_ingress() -> bool:
        return not (await networking.list_namespaced_ingress(ns)).items

    await until(no_ingress)
    # The status is written after the children, in the same reconcile: wait for it.
    await operator.wait_for("shop", lambda obj: "url" not in obj["status"], "url cleared")

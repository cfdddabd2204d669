"""The web and cron Deployments of an OdooInstance (SPEC §4), as pure functions.

Guarantees:
- web: `odoo --config /etc/odoo/odoo.conf --max-cron-threads 0`, ports `http` 8069 and
  `websocket` 8072, startup/liveness/readiness HTTP probes on 8069 at the spec's paths;
  cron: `odoo --config /etc/odoo/odoo.conf --no-http`, no ports, no HTTP probes;
- both: pods run as uid 100, gid 101, fsGroup 101; the filestore PVC at /var/lib/odoo, the
  conf Secret at /etc/odoo (read-only); the conf's hash as the pod template annotation
  `bemade.org/odoo-conf-hash`, so a conf change rolls the pods; labels `app` and
  `bemade.org/environment`; resources (cron: `cron.resources`, else the web's),
  affinity, tolerations, extraEnv, extraEnvFrom, the pull secret;
- selectors: web `app=<name>` (the scale subresource's `status.selector`), cron
  `app=<name>-cron`, so cron pods never count as web pods;
- replicas are given by the caller (the lifecycle decides them, see `reconciler`);
- the web strategy is the spec's (`Recreate`, or `RollingUpdate` with its limits, 25 %
  each by default); cron always `Recreate` (two cron pods must never overlap).
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.instance import OdooInstance, StrategyType
from odoo_operator.controllers import canonical
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.instance.children import Owner
from odoo_operator.controllers.instance.odooconf import (
    CONF_DIR,
    CONF_PATH,
    DATA_DIR,
    GEVENT_PORT,
    HTTP_PORT,
)

ODOO_UID = 100
ODOO_GID = 101
CONTAINER = "odoo"


def _probe(path: str, *, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": HTTP_PORT, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def volumes(instance_name: str) -> list[dict[str, Any]]:
    """The filestore PVC and the conf Secret, as every Odoo pod (and batch Job) has them."""
    return [
        {
            "name": "filestore",
            "persistentVolumeClaim": {"claimName": names.filestore_pvc(instance_name)},
        },
        {"name": "conf", "secret": {"secretName": names.conf_secret(instance_name)}},
    ]


MOUNTS = [
    {"name": "filestore", "mountPath": DATA_DIR},
    {"name": "conf", "mountPath": CONF_DIR, "readOnly": True},
]


def odoo_container(
    instance: OdooInstance, args: list[str], resources: dict[str, Any] | None
) -> dict[str, Any]:
    """`odoo --config /etc/odoo/odoo.conf ARGS` in the instance's image, extraEnv included."""
    spec = instance.spec
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "command": ["odoo"],
        "args": ["--config", CONF_PATH, *args],
        "volumeMounts": MOUNTS,
    }
    if spec.extra_env:
        container["env"] = canonical.env(spec.extra_env)
    if spec.extra_env_from:
        container["envFrom"] = spec.extra_env_from
    canonical_resources = canonical.resources(resources)
    if canonical_resources:
        container["resources"] = canonical_resources
    return container


def pod_spec(
    instance_name: str, instance: OdooInstance, containers: list[dict[str, Any]]
) -> dict[str, Any]:
    """uid 100 / gid 101 / fsGroup 101, the volumes, pull secret, affinity and tolerations."""
    spec = instance.spec
    pod: dict[str, Any] = {
        "securityContext": {"runAsUser": ODOO_UID, "runAsGroup": ODOO_GID, "fsGroup": ODOO_GID},
        "containers": containers,
        "volumes": volumes(instance_name),
    }
    if spec.image_pull_secret:
        pod["imagePullSecrets"] = [{"name": spec.image_pull_secret}]
    if spec.affinity:
        pod["affinity"] = spec.affinity
    if spec.tolerations:
        pod["tolerations"] = spec.tolerations
    return pod


def _pod_template(
    owner: Owner, instance: OdooInstance, app: str, conf_hash: str, container: dict[str, Any]
) -> dict[str, Any]:
    spec = instance.spec
    pod = pod_spec(owner.name, instance, [container])
    return {
        "metadata": {
            "labels": {
                names.APP_LABEL: app,
                names.ENVIRONMENT_LABEL: spec.environment.value,
                **names.child_labels(owner.name),
            },
            "annotations": {names.CONF_HASH_ANNOTATION: conf_hash},
        },
        "spec": pod,
    }


def _deployment(
    owner: Owner, name: str, replicas: int, strategy: dict[str, Any], template: dict[str, Any]
) -> dict[str, Any]:
    app = template["metadata"]["labels"][names.APP_LABEL]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.metadata(name, labels={names.APP_LABEL: app}),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {names.APP_LABEL: app}},
            "strategy": strategy,
            "template": template,
        },
    }


def _web_strategy(instance: OdooInstance) -> dict[str, Any]:
    strategy = instance.spec.strategy
    if strategy.type is StrategyType.RECREATE:
        return {"type": "Recreate"}
    rolling = strategy.rolling_update
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {
            "maxSurge": rolling.max_surge if rolling else "25%",
            "maxUnavailable": rolling.max_unavailable if rolling else "25%",
        },
    }


def web_deployment(
    owner: Owner, instance: OdooInstance, replicas: int, conf_hash: str
) -> dict[str, Any]:
    spec = instance.spec
    container = odoo_container(instance, ["--max-cron-threads", "0"], spec.resources)
    container["ports"] = [
        {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
        {"name": "websocket", "containerPort": GEVENT_PORT, "protocol": "TCP"},
    ]
    container["startupProbe"] = _probe(spec.probes.startup_path, period=10, failures=30, delay=5)
    container["livenessProbe"] = _probe(spec.probes.liveness_path, period=15, failures=3)
    container["readinessProbe"] = _probe(spec.probes.readiness_path, period=10, failures=3)
    app = names.web(owner.name)
    template = _pod_template(owner, instance, app, conf_hash, container)
    return _deployment(owner, app, replicas, _web_strategy(instance), template)


def cron_deployment(
    owner: Owner, instance: OdooInstance, replicas: int, conf_hash: str
) -> dict[str, Any]:
    spec = instance.spec
    container = odoo_container(instance, ["--no-http"], spec.cron.resources or spec.resources)
    app = names.cron(owner.name)
    template = _pod_template(owner, instance, app, conf_hash, container)
    return _deployment(owner, app, replicas, {"type": "Recreate"}, template)

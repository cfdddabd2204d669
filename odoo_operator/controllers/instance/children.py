"""The desired children of an OdooInstance (SPEC §4), as pure functions of their inputs.

Every function returns the complete object to apply, in the canonical form the API server
stores (see `controllers.canonical`), so that applying it again changes nothing and the
applier sends nothing. The Deployments are in `pods`.

Guarantees:
- every child carries a controller ownerReference to its instance (the copied pull secret
  excepted: it is shared by the instances of a namespace and outlives them) and the
  labels of `names.child_labels` (the operator's informers select on them);
- Secrets are written as base64 `data` with `type: Opaque` (never `stringData`);
- the PVC never shrinks and never changes class: a smaller `storageSize` than the claim's
  keeps the claim's size, an existing claim keeps its class;
- an Ingress exists only with `spec.ingress.hosts`: `/websocket` -> 8072 and `/` -> 8069
  per host, TLS with `<name>-tls`, `cert-manager.io/cluster-issuer` when an issuer is set.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers import canonical
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.instance.odooconf import GEVENT_PORT, HTTP_PORT
from odoo_operator.controllers.resources import ODOO_INIT_JOBS, ODOO_INSTANCES
from odoo_operator.runtime.objects import KubeObject


@dataclass(frozen=True)
class Owner:
    """The instance as its children see it: name, namespace, uid."""

    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, instance: OdooInstance) -> Owner:
        metadata = instance.metadata
        return cls(metadata.name or "", metadata.namespace or "", metadata.uid or "")

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": ODOO_INSTANCES.api_version,
            "kind": ODOO_INSTANCES.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def metadata(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": {**names.child_labels(self.name), **(labels or {})},
            "ownerReferences": [self.reference()],
        }
        if annotations:
            metadata["annotations"] = dict(annotations)
        return metadata


def encode(values: Mapping[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}


def _secret(metadata: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": encode(values),
    }


def user_secret(
    owner: Owner, role: str, password: str, admin_password: str | None
) -> dict[str, Any]:
    """`<name>-odoo-user`: created once (the reconciler never re-applies it)."""
    values = {names.USER_SECRET_USERNAME: role, names.USER_SECRET_PASSWORD: password}
    if admin_password is not None:
        values[names.USER_SECRET_ADMIN_PASSWORD] = admin_password
    return _secret(owner.metadata(names.user_secret(owner.name)), values)


def conf_secret(owner: Owner, conf: str) -> dict[str, Any]:
    return _secret(owner.metadata(names.conf_secret(owner.name)), {names.CONF_KEY: conf})


def _bigger(size: str, current: str | None) -> str:
    if current is None:
        return size
    return size if canonical.amount(size) >= canonical.amount(current) else current


def filestore_pvc(
    owner: Owner, instance: OdooInstance, current: KubeObject | None
) -> dict[str, Any]:
    filestore = instance.spec.filestore
    if filestore.storage_size is None or filestore.storage_class is None:
        raise ValueError("spec.filestore: storageSize and storageClass must be set first")
    current_spec = (current or {}).get("spec") or {}
    requests = (current_spec.get("resources") or {}).get("requests") or {}
    size = canonical.quantity(_bigger(filestore.storage_size, requests.get("storage")))
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owner.metadata(names.filestore_pvc(owner.name)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": current_spec.get("storageClassName") or filestore.storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def service(owner: Owner) -> dict[str, Any]:
    selector = {names.APP_LABEL: names.web(owner.name)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(names.web(owner.name), labels=selector),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"},
                {
                    "name": "websocket",
                    "port": GEVENT_PORT,
                    "targetPort": GEVENT_PORT,
                    "protocol": "TCP",
                },
            ],
        },
    }


def _backend(service_name: str, port: int) -> dict[str, Any]:
    return {"service": {"name": service_name, "port": {"number": port}}}


def ingress(owner: Owner, instance: OdooInstance) -> dict[str, Any] | None:
    """The Ingress, or None when the instance has no hosts."""
    spec = instance.spec.ingress
    if spec is None or not spec.hosts:
        return None
    service_name = names.web(owner.name)
    paths = [
        {
            "path": "/websocket",
            "pathType": "Prefix",
            "backend": _backend(service_name, GEVENT_PORT),
        },
        {"path": "/", "pathType": "Prefix", "backend": _backend(service_name, HTTP_PORT)},
    ]
    body: dict[str, Any] = {
        "rules": [{"host": host, "http": {"paths": paths}} for host in spec.hosts],
        "tls": [{"hosts": list(spec.hosts), "secretName": names.tls_secret(owner.name)}],
    }
    if spec.ingress_class:
        body = {"ingressClassName": spec.ingress_class, **body}
    annotations = {names.CERT_ISSUER_ANNOTATION: spec.issuer} if spec.issuer else None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": owner.metadata(names.web(owner.name), annotations=annotations),
        "spec": body,
    }


def pull_secret_copy(namespace: str, source: KubeObject) -> dict[str, Any]:
    """The operator namespace's pull secret, copied (no owner: shared, outlives instances)."""
    metadata = source["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": metadata["name"],
            "namespace": namespace,
            "labels": {names.MANAGED_BY: names.MANAGER},
            "annotations": {
                names.COPIED_FROM_ANNOTATION: f"{metadata['namespace']}/{metadata['name']}"
            },
        },
        "type": source.get("type") or "Opaque",
        "data": dict(source.get("data") or {}),
    }


def auto_init_job(owner: Owner, instance: OdooInstance) -> dict[str, Any] | None:
    """`<name>-auto-init`, when the spec asks the operator to initialise the database."""
    init = instance.spec.init
    if init is None or not init.enabled:
        return None
    return {
        "apiVersion": ODOO_INIT_JOBS.api_version,
        "kind": ODOO_INIT_JOBS.kind,
        "metadata": owner.metadata(names.auto_init_job(owner.name)),
        "spec": {
            "odooInstanceRef": {"name": owner.name},
            "modules": list(init.modules),
            "demo": init.demo,
        },
    }

"""Names and labels of everything the operator makes for an OdooInstance (SPEC §4, §5).

One owner per name: the reconciler, the finalizer, the job resources controller and the
tests all take child names, labels and the PostgreSQL role name from here.

Guarantees:
- child names are the earlier implementation's (`<name>-odoo-user`, `<name>-odoo-conf`,
  `<name>-filestore-pvc`, `<name>`, `<name>-cron`, `<name>-auto-init`);
- every object the operator creates carries `MANAGED_BY` = `odoo-operator`, which is also
  the label selector of the operator's informers on Secrets, Deployments, PVCs, Services,
  Ingresses and batch Jobs (it caches its own objects only, not every Secret of a cluster);
- `role_name` is `odoo.<namespace>.<name>` when that fits PostgreSQL's 63 bytes, else a
  prefix of it plus `_` and 10 hex digits of its SHA-256: stable, and distinct for
  distinct instances;
- `default_database_name` is `odoo_` + the uid with every character outside [a-z0-9]
  replaced by `_` (a valid unquoted PostgreSQL identifier of 41 bytes).
"""

from __future__ import annotations

import hashlib
import re

from odoo_operator.api.base import GROUP

FINALIZER = f"{GROUP}/postgres-cleanup"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "odoo-operator"
CHILD_SELECTOR = f"{MANAGED_BY}={MANAGER}"
INSTANCE_LABEL = "app.kubernetes.io/instance"
APP_LABEL = "app"
ENVIRONMENT_LABEL = f"{GROUP}/environment"
CONF_HASH_ANNOTATION = f"{GROUP}/odoo-conf-hash"
COPIED_FROM_ANNOTATION = f"{GROUP}/copied-from"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
CERT_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"

USER_SECRET_USERNAME = "username"  # noqa: S105 - a key name
USER_SECRET_PASSWORD = "password"  # noqa: S105 - a key name
USER_SECRET_ADMIN_PASSWORD = "admin-password"  # noqa: S105 - a key name
CONF_KEY = "odoo.conf"

MAX_IDENTIFIER_BYTES = 63
_ROLE_HASH_LENGTH = 10


def user_secret(instance: str) -> str:
    return f"{instance}-odoo-user"


def conf_secret(instance: str) -> str:
    return f"{instance}-odoo-conf"


def filestore_pvc(instance: str) -> str:
    return f"{instance}-filestore-pvc"


def web(instance: str) -> str:
    """The web Deployment, the Service and the Ingress share the instance's name."""
    return instance


def cron(instance: str) -> str:
    return f"{instance}-cron"


def tls_secret(instance: str) -> str:
    return f"{instance}-tls"


def auto_init_job(instance: str) -> str:
    return f"{instance}-auto-init"


def role_name(namespace: str, instance: str) -> str:
    """`odoo.<namespace>.<name>`, or a stable truncation with a hash past 63 bytes."""
    full = f"odoo.{namespace}.{instance}"
    if len(full.encode()) <= MAX_IDENTIFIER_BYTES:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_ROLE_HASH_LENGTH]
    keep = MAX_IDENTIFIER_BYTES - _ROLE_HASH_LENGTH - 1
    return f"{full.encode()[:keep].decode(errors='ignore')}_{digest}"


def default_database_name(uid: str) -> str:
    return "odoo_" + re.sub(r"[^a-z0-9]", "_", uid.lower())


def child_labels(instance: str) -> dict[str, str]:
    """Labels on every child: ours (the informers' selector) and which instance."""
    return {MANAGED_BY: MANAGER, INSTANCE_LABEL: instance}

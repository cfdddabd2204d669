"""What the OdooInstance reconciler and its finalizer work with: caches, writers, settings.

Built once by `setup`; everything in it is shared by all workers. Reads go through the
caches (plus `own_writes` for what this process just wrote); writes through `applier`
(server-side apply) or `client` (creates, merge patches, deletes).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from odoo_operator.controllers.instance import clusters
from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.controllers.instance.postgres import DatabaseAdmin
from odoo_operator.controllers.instance.snapshot_builder import JobCaches
from odoo_operator.controllers.notify import Notifier
from odoo_operator.controllers.own_writes import OwnWrites
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.runtime.apply import Applier
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.events import EventRecorder
from odoo_operator.runtime.objects import KubeObject, ObjectKey, resource_version
from odoo_operator.runtime.resources import Resource


@dataclass(frozen=True)
class Caches:
    instances: Lister
    children: Mapping[Resource, Lister]  # our child kinds, label-selected
    operator_secrets: Lister  # every Secret of the operator namespace
    jobs: JobCaches


@dataclass
class Context:
    client: KubeClient
    applier: Applier
    recorder: EventRecorder
    settings: OperatorSettings
    caches: Caches
    database: DatabaseAdmin
    notifier: Notifier
    writes: OwnWrites = field(default_factory=OwnWrites)
    _parsed: tuple[str, dict[str, Cluster]] | None = None

    def current(self, resource: Resource, key: ObjectKey) -> KubeObject | None:
        """The freshest copy of a child (cache, or our own newer write)."""
        lister = self.caches.children[resource]
        return self.writes.freshest(resource, key, lister.get(key))

    def clusters(self) -> dict[str, Cluster]:
        """The parsed clusters Secret (parsed once per version); `ClustersError` if unusable."""
        name = self.settings.postgres_clusters_secret
        secret = self.caches.operator_secrets.get(ObjectKey(self.settings.operator_namespace, name))
        version = resource_version(secret) if secret is not None else ""
        if self._parsed is not None and version and self._parsed[0] == version:
            return self._parsed[1]
        parsed = clusters.parse(secret, name)
        self._parsed = (version, parsed)
        return parsed

    def default_cluster(self) -> str | None:
        """The default cluster's name, None when the Secret is unusable or has none."""
        try:
            found = self.clusters()
        except clusters.ClustersError:
            return None
        return next((name for name, cluster in found.items() if cluster.default), None)


def decode(secret: KubeObject | None, key: str) -> str | None:
    """One value of a Secret's `data`, or None (missing or not base64 text)."""
    if secret is None:
        return None
    encoded = (secret.get("data") or {}).get(key)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None

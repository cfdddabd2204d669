"""Defaults written into an instance's spec once (SPEC §2): what to add, as a merge patch.

Guarantees:
- only fields the user left unset are filled: `image`, `database.cluster` (the clusters
  Secret's default), `database.name` (`odoo_<uid>`), `filestore.storageSize` and
  `storageClass`, `ingress.class` and `ingress.issuer` (only when the instance has an
  `ingress` block and the flag is set), `resources`, `affinity`, `tolerations` (when the
  flag is set); a spec that has them all gives an empty patch;
- the patch holds values only, never a secret (`adminPassword` is never defaulted into
  the spec: a generated one stays in the `<name>-odoo-user` Secret).
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance.names import default_database_name
from odoo_operator.controllers.settings import OperatorSettings


def _database(instance: OdooInstance, default_cluster: str | None) -> dict[str, Any]:
    database: dict[str, Any] = {}
    if instance.spec.database.cluster is None and default_cluster is not None:
        database["cluster"] = default_cluster
    if instance.spec.database.name is None and instance.metadata.uid:
        database["name"] = default_database_name(instance.metadata.uid)
    return database


def _filestore(instance: OdooInstance, settings: OperatorSettings) -> dict[str, Any]:
    filestore: dict[str, Any] = {}
    if instance.spec.filestore.storage_size is None:
        filestore["storageSize"] = settings.default_storage_size
    if instance.spec.filestore.storage_class is None:
        filestore["storageClass"] = settings.default_storage_class
    return filestore


def _ingress(instance: OdooInstance, settings: OperatorSettings) -> dict[str, Any]:
    ingress: dict[str, Any] = {}
    spec = instance.spec.ingress
    if spec is None:
        return ingress
    if spec.ingress_class is None and settings.default_ingress_class:
        ingress["class"] = settings.default_ingress_class
    if spec.issuer is None and settings.default_ingress_issuer:
        ingress["issuer"] = settings.default_ingress_issuer
    return ingress


def spec_defaults(
    instance: OdooInstance, settings: OperatorSettings, default_cluster: str | None
) -> dict[str, Any]:
    """The spec fields to add (camelCase, nested as in the spec); empty when none."""
    spec = instance.spec
    patch: dict[str, Any] = {}
    if not spec.image:
        patch["image"] = settings.default_odoo_image
    nested = {
        "database": _database(instance, default_cluster),
        "filestore": _filestore(instance, settings),
        "ingress": _ingress(instance, settings),
    }
    patch.update({field: values for field, values in nested.items() if values})
    pod_defaults = {
        "resources": (spec.resources, settings.default_resources),
        "affinity": (spec.affinity, settings.default_affinity),
        "tolerations": (spec.tolerations, settings.default_tolerations),
    }
    for field, (have, default) in pod_defaults.items():
        if have is None and default is not None:
            patch[field] = default
    return patch

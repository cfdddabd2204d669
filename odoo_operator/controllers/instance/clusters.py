"""The PostgreSQL clusters Secret (SPEC §5): parsed, checked, and one cluster picked.

The Secret `--postgres-clusters-secret` in the operator namespace holds, under the key
`clusters.yaml`, a map `name -> {host, port, adminUser, adminPassword, default}`.

Guarantees:
- `parse()` returns every cluster or raises `ClustersError` whose message names the
  Secret, the key and the field at fault (`cluster 'main': port must be an integer from 1
  to 65535`), and never contains a value from the Secret (a password may sit next to the
  mistake);
- at most one cluster is `default: true`; `pick()` returns the named cluster, or the
  default one when no name is given, or raises `ClustersError` saying which is missing;
- a `Cluster`'s `repr` hides the admin password, so it may be logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

CLUSTERS_KEY = "clusters.yaml"
DEFAULT_PORT = 5432


class ClustersError(ValueError):
    """The clusters Secret cannot be used; the message says why (never a secret value)."""


@dataclass(frozen=True)
class Cluster:
    name: str
    host: str
    port: int
    admin_user: str
    admin_password: str = field(repr=False)
    default: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything about the connection changes (password included)."""
        text = "\0".join((self.host, str(self.port), self.admin_user, self.admin_password))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ClustersError(f"{where}: {key} must be a non-empty string")
    return value


def _cluster(name: str, entry: Any, where: str) -> Cluster:
    if not isinstance(entry, Mapping):
        raise ClustersError(f"{where}: must be a map with host, port, adminUser, adminPassword")
    unknown = sorted(set(entry) - {"host", "port", "adminUser", "adminPassword", "default"})
    if unknown:
        raise ClustersError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    port = entry.get("port", DEFAULT_PORT)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ClustersError(f"{where}: port must be an integer from 1 to 65535")
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise ClustersError(f"{where}: default must be true or false")
    return Cluster(
        name=name,
        host=_text(entry, "host", where),
        port=port,
        admin_user=_text(entry, "adminUser", where),
        admin_password=_text(entry, "adminPassword", where),
        default=default,
    )


def parse(secret: Mapping[str, Any] | None, secret_name: str) -> dict[str, Cluster]:
    """Every cluster of the Secret (the object as cached, base64 `data`)."""
    origin = f"clusters Secret {secret_name}"
    if secret is None:
        raise ClustersError(f"{origin} not found in the operator namespace")
    encoded = (secret.get("data") or {}).get(CLUSTERS_KEY)
    if encoded is None:
        raise ClustersError(f"{origin} has no key {CLUSTERS_KEY}")
    try:
        document = yaml.safe_load(base64.b64decode(encoded, validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError):
        raise ClustersError(f"{origin}: key {CLUSTERS_KEY} is not valid YAML") from None
    if not isinstance(document, Mapping) or not document:
        raise ClustersError(f"{origin}: key {CLUSTERS_KEY} must map cluster names to settings")
    where = f"{origin}, key {CLUSTERS_KEY}"
    clusters = {
        str(name): _cluster(str(name), entry, f"{where}: cluster {str(name)!r}")
        for name, entry in document.items()
    }
    defaults = sorted(name for name, cluster in clusters.items() if cluster.default)
    if len(defaults) > 1:
        raise ClustersError(f"{where}: more than one default cluster ({', '.join(defaults)})")
    return clusters


def pick(clusters: Mapping[str, Cluster], name: str | None, secret_name: str) -> Cluster:
    """The cluster `name`, or the default one when `name` is None."""
    if name is None:
        for cluster in clusters.values():
            if cluster.default:
                return cluster
        raise ClustersError(
            f"clusters Secret {secret_name} marks no cluster default: true; "
            "set spec.database.cluster"
        )
    if name not in clusters:
        known = ", ".join(sorted(clusters))
        raise ClustersError(
            f"spec.database.cluster: unknown cluster {name!r} (clusters Secret "
            f"{secret_name} has: {known})"
        )
    return clusters[name]

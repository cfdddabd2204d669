"""A container's environment, resolved as the kubelet resolves it.

Guarantees:
- `envFrom` first (ConfigMaps and Secrets, with `prefix`; keys that are not valid
  variable names are skipped, as the kubelet does), then `env` in order, later entries
  winning;
- `value` with `$(VAR)` expanded from the variables defined before it (`$$(VAR)` is a
  literal `$(VAR)`, unknown references stay as written); `valueFrom.secretKeyRef`,
  `configMapKeyRef` and `fieldRef` (`metadata.name`, `metadata.namespace`,
  `metadata.uid`, `metadata.labels['k']`, `metadata.annotations['k']`, `spec.nodeName`,
  `spec.serviceAccountName`, `status.hostIP`, `status.podIP`);
- a missing ConfigMap, Secret or key that is not `optional` raises `ConfigError` with
  the kubelet's message (the container then waits with `CreateContainerConfigError`);
  anything the simulator cannot resolve (`resourceFieldRef`) says so the same way.

Secret values are only ever handed to the process environment, never logged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from odoo_operator.sandbox.ports import LOOPBACK

_VARIABLE_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_FIELD_KEY = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class ConfigError(Exception):
    """A container cannot be configured yet (a missing Secret, ConfigMap or key)."""


class ObjectSource(Protocol):
    """Where Secrets and ConfigMaps are read from (the node's informer caches)."""

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion, as in env values, command and args."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return variables.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's `data` decoded (and `stringData`, which a cached Secret never has)."""
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    data |= {key: value.encode() for key, value in (secret.get("stringData") or {}).items()}
    return data


def config_map_data(config_map: Mapping[str, Any]) -> dict[str, bytes]:
    data = {key: value.encode() for key, value in (config_map.get("data") or {}).items()}
    binary = config_map.get("binaryData") or {}
    data |= {key: base64.b64decode(value) for key, value in binary.items()}
    return data


def _source_data(
    source: ObjectSource, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, bytes] | None:
    if kind == "secret":
        secret = source.secret(namespace, name)
        found = None if secret is None else secret_data(secret)
    else:
        config_map = source.config_map(namespace, name)
        found = None if config_map is None else config_map_data(config_map)
    if found is None and not optional:
        label = "secret" if kind == "secret" else "configmap"
        raise ConfigError(f'{label} "{name}" not found')
    return found


def _key_ref(source: ObjectSource, kind: str, namespace: str, ref: Mapping[str, Any]) -> str | None:
    optional = bool(ref.get("optional"))
    data = _source_data(source, kind, namespace, str(ref.get("name", "")), optional)
    if data is None:
        return None
    key = str(ref.get("key", ""))
    if key not in data:
        if optional:
            return None
        label = "Secret" if kind == "secret" else "ConfigMap"
        raise ConfigError(f"couldn't find key {key} in {label} {namespace}/{ref.get('name')}")
    return data[key].decode(errors="replace")


def _field(pod: Mapping[str, Any], path: str) -> str:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": LOOPBACK,
        "status.podIP": LOOPBACK,
    }
    if path in simple:
        return str(simple[path] or "")
    keyed = _FIELD_KEY.match(path)
    if keyed:
        return str((metadata.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    raise ConfigError(f"fieldRef {path!r} is not supported by the pod simulator")


def resolve(
    pod: Mapping[str, Any], container: Mapping[str, Any], source: ObjectSource
) -> dict[str, str]:
    """The variables the pod spec gives `container` (the image's own are not included)."""
    namespace = str(pod["metadata"]["namespace"])
    variables: dict[str, str] = {}
    for env_from in container.get("envFrom") or ():
        prefix = str(env_from.get("prefix") or "")
        for kind in ("secret", "configMap"):
            ref = env_from.get(f"{kind}Ref")
            if ref is None:
                continue
            data = _source_data(
                source, kind.lower(), namespace, str(ref.get("name", "")), bool(ref.get("optional"))
            )
            for key, raw in (data or {}).items():
                if _VARIABLE_NAME.match(prefix + key):
                    variables[prefix + key] = raw.decode(errors="replace")
    for entry in container.get("env") or ():
        value = _env_value(pod, entry, namespace, variables, source)
        if value is not None:
            variables[str(entry["name"])] = value
    return variables


def _env_value(
    pod: Mapping[str, Any],
    entry: Mapping[str, Any],
    namespace: str,
    variables: Mapping[str, str],
    source: ObjectSource,
) -> str | None:
    value_from = entry.get("valueFrom")
    if value_from is None:
        return expand(str(entry.get("value") or ""), variables)
    if "secretKeyRef" in value_from:
        return _key_ref(source, "secret", namespace, value_from["secretKeyRef"])
    if "configMapKeyRef" in value_from:
        return _key_ref(source, "configmap", namespace, value_from["configMapKeyRef"])
    if "fieldRef" in value_from:
        return _field(pod, str(value_from["fieldRef"].get("fieldPath", "")))
    unsupported = ", ".join(sorted(value_from)) or "an empty valueFrom"
    raise ConfigError(
        f"env {entry.get('name')}: {unsupported} is not supported by the pod simulator"
    )


def expand_all(words: Sequence[str], variables: Mapping[str, str]) -> list[str]:
    return [expand(str(word), variables) for word in words]

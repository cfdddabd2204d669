"""A pod's volumes as host directories, and container paths translated to them.

Guarantees:
- `persistentVolumeClaim`: the claim's own directory (see `claims`), shared by every pod
  that mounts the claim and kept for the claim's life;
- `secret`, `configMap` and `projected` (of secrets and configMaps): the keys written as
  files (`items` with their `path` and `mode`, else every key), with `defaultMode`
  (0644 unless set), under the pod's directory, so they go with the pod; `emptyDir`: an
  empty directory there; `hostPath`: that host path itself;
- a missing Secret, ConfigMap or claim that is not `optional`, or a volume type the
  simulator does not provide, raises `ConfigError`; a key's path can never leave its
  volume's directory;
- `subPath` mounts a path inside the volume (created for directories of writable
  volumes, as the kubelet does).

Path translation (the rule the docs state): the process runs on the host, so an
argument, an env value or `workingDir` that is a mount path or lies below one is
rewritten to the host path (the longest mount path wins); for `--option=value`
arguments the part after `=` is translated. Paths inside longer strings (a shell
script in `sh -c`) are not. `readOnly` is not enforced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from odoo_operator.sandbox.podsim.claims import claim_dir
from odoo_operator.sandbox.podsim.env import (
    ConfigError,
    ObjectSource,
    config_map_data,
    secret_data,
)

DEFAULT_MODE = 0o644


@dataclass(frozen=True)
class Mount:
    container_path: str
    host_path: Path


class ClaimSource(ObjectSource, Protocol):
    """An `ObjectSource` that also knows the PersistentVolumeClaims."""

    def claim(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...


def _write_files(
    directory: Path,
    *,
    data: Mapping[str, bytes],
    items: Sequence[Mapping[str, Any]] | None,
    default_mode: int,
    what: str,
    optional: bool,
) -> None:
    wanted = (
        [(str(i["key"]), str(i.get("path") or i["key"]), i.get("mode")) for i in items]
        if items
        else [(key, key, None) for key in data]
    )
    for key, relative, mode in wanted:
        if key not in data:
            if optional:
                continue
            kind = "secret" if what.startswith("secret") else "config"
            raise ConfigError(f"{what} references non-existent {kind} key: {key}")
        target = directory / PurePosixPath(relative)
        if ".." in PurePosixPath(relative).parts or PurePosixPath(relative).is_absolute():
            raise ConfigError(f"{what}: item path {relative!r} would leave the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data[key])
        target.chmod(int(mode) if mode is not None else default_mode)


def _project(
    directory: Path, namespace: str, kind: str, spec: Mapping[str, Any], source: ObjectSource
) -> None:
    """Write one Secret or ConfigMap source into `directory`."""
    optional = bool(spec.get("optional"))
    if kind == "secret":
        name = str(spec.get("secretName") or spec.get("name") or "")
        found = source.secret(namespace, name)
        data = None if found is None else secret_data(found)
        what = f'secret "{name}"'
    else:
        name = str(spec.get("name") or "")
        found = source.config_map(namespace, name)
        data = None if found is None else config_map_data(found)
        what = f'configmap "{name}"'
    if data is None:
        if optional:
            return
        raise ConfigError(f"{what} not found")
    default_mode = spec.get("defaultMode")
    mode = int(default_mode) if default_mode is not None else DEFAULT_MODE
    _write_files(
        directory,
        data=data,
        items=spec.get("items"),
        default_mode=mode,
        what=what,
        optional=optional,
    )


class PodVolumes:
    """The volumes of one pod, under `pod_dir/volumes/<name>`."""

    def __init__(self, pod_dir: Path, claims_root: Path) -> None:
        self.root = pod_dir / "volumes"
        self.claims_root = claims_root
        self.directories: dict[str, Path] = {}
        self._writable: set[str] = set()

    def prepare(self, pod: Mapping[str, Any], source: ClaimSource) -> None:
        """Materialise every volume of `pod`; raises `ConfigError` if one cannot be yet."""
        namespace = str(pod["metadata"]["namespace"])
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            name = str(volume["name"])
            self.directories[name] = self._prepare_one(namespace, volume, source)

    def _prepare_one(self, namespace: str, volume: Mapping[str, Any], source: ClaimSource) -> Path:
        name = str(volume["name"])
        directory = self.root / name
        if "persistentVolumeClaim" in volume:
            claim = str(volume["persistentVolumeClaim"].get("claimName", ""))
            found = source.claim(namespace, claim)
            if found is None:
                raise ConfigError(f'persistentvolumeclaim "{claim}" not found')
            self._writable.add(name)
            host = claim_dir(self.claims_root, found)
            host.mkdir(parents=True, exist_ok=True)
            return host
        if "hostPath" in volume:
            return Path(str(volume["hostPath"].get("path", "")))
        directory.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            self._writable.add(name)
        elif "secret" in volume:
            _project(directory, namespace, "secret", volume["secret"], source)
        elif "configMap" in volume:
            _project(directory, namespace, "configmap", volume["configMap"], source)
        elif "projected" in volume:
            self._prepare_projected(directory, namespace, volume["projected"], source)
        else:
            kinds = ", ".join(sorted(set(volume) - {"name"})) or "none"
            raise ConfigError(
                f"volume {name!r}: type {kinds} is not supported by the pod simulator"
            )
        return directory

    def _prepare_projected(
        self, directory: Path, namespace: str, spec: Mapping[str, Any], source: ObjectSource
    ) -> None:
        default_mode = spec.get("defaultMode")
        for projection in spec.get("sources") or ():
            for kind, key in (("secret", "secret"), ("configmap", "configMap")):
                if key in projection:
                    part = dict(projection[key])
                    if default_mode is not None:
                        part.setdefault("defaultMode", default_mode)
                    _project(directory, namespace, kind, part, source)
            if not {"secret", "configMap"} & set(projection):
                kinds = ", ".join(sorted(projection))
                raise ConfigError(f"projected {kinds} is not supported by the pod simulator")

    def mounts(self, container: Mapping[str, Any]) -> list[Mount]:
        """The container's mounts, longest container path first (translation order)."""
        found = []
        for mount in container.get("volumeMounts") or ():
            volume = str(mount["name"])
            if volume not in self.directories:
                raise ConfigError(f"volumeMount {volume!r} names no volume of the pod")
            host = self.directories[volume]
            sub_path = str(mount.get("subPath") or "")
            if sub_path:
                if ".." in PurePosixPath(sub_path).parts or sub_path.startswith("/"):
                    raise ConfigError(f"subPath {sub_path!r} would leave volume {volume!r}")
                host = host / sub_path
                if volume in self._writable and not host.exists():
                    host.mkdir(parents=True)
            path = str(mount["mountPath"]).rstrip("/")
            if not path.startswith("/"):
                raise ConfigError(f"mountPath {mount['mountPath']!r} must be an absolute path")
            found.append(Mount(path, host))
        return sorted(found, key=lambda m: len(m.container_path), reverse=True)


def translate(word: str, mounts: Sequence[Mount]) -> str:
    """A container path (or a path below one) as the host path; anything else unchanged."""
    for mount in mounts:
        prefix = mount.container_path
        if word == prefix or word.startswith(prefix + "/"):
            return str(mount.host_path) + word[len(prefix) :]
    return word


def translate_argument(argument: str, mounts: Sequence[Mount]) -> str:
    """`translate`, also for the value of `--option=value`."""
    if argument.startswith("-") and "=" in argument:
        option, _, value = argument.partition("=")
        return f"{option}={translate(value, mounts)}"
    return translate(argument, mounts)

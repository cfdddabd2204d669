"""Kubernetes objects as plain data: keys, read-only copies, owner references, MicroTime.

The runtime keeps objects as the JSON the API server sent (dicts, not generated model
classes: smaller and faster). Guarantees:
- `freeze` returns a deep read-only copy (`FrozenDict` for maps, tuples for lists) that
  still serialises with `json.dumps`; mutating it raises `TypeError`, so a reconciler
  can never corrupt the shared cache by accident. `thaw` gives back a mutable deep copy.
  Map keys are interned: every cached object shares one copy of each field name (JSON
  decoding makes new ones per object), about a quarter of a Deployment's memory.
- `strip_managed_fields` drops `metadata.managedFields` (about half of an object's
  size, never needed by a reconciler) before anything is cached.
- `micro_time` always writes six fractional digits, which MicroTime fields require.
- `check_dns_label` accepts exactly Kubernetes' DNS labels (namespace names, among others).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, NoReturn

KubeObject = Mapping[str, Any]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def check_dns_label(value: str, what: str) -> str:
    """`value` if it is a DNS label (RFC 1123, as Kubernetes checks), else `ValueError`."""
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"not a valid {what}: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


class ObjectKey(NamedTuple):
    """Namespace and name of an object; namespace is "" for cluster-scoped kinds."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def key_of(obj: KubeObject) -> ObjectKey:
    metadata = obj["metadata"]
    return ObjectKey(metadata.get("namespace") or "", metadata["name"])


class FrozenDict(dict[str, Any]):
    """A dict that refuses every mutation (a read-only view of cached data)."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("cached Kubernetes objects are read-only; use thaw() for a copy")

    __setitem__ = _readonly
    __delitem__ = _readonly
    __ior__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))


# JSON's scalar types, tested first and by exact type: they are most of the values that
# `freeze` and the applier's comparison visit, and `isinstance` against an ABC is slow.
JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def freeze(value: Any) -> Any:
    """A deep read-only copy of JSON-like data (string keys, as JSON has)."""
    kind = type(value)
    if kind in JSON_SCALARS or kind is FrozenDict:
        return value
    if kind is dict or isinstance(value, Mapping):
        return FrozenDict({sys.intern(key): freeze(item) for key, item in value.items()})
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return tuple([freeze(item) for item in value])
    return value


def thaw(value: Any) -> Any:
    """A deep mutable copy (dicts and lists) of JSON-like data, frozen or not."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Remove `metadata.managedFields` in place and return the object."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return obj


def resource_version(obj: KubeObject) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def owner_references(obj: KubeObject) -> Iterator[KubeObject]:
    yield from obj.get("metadata", {}).get("ownerReferences") or ()


def controller_owner(obj: KubeObject) -> KubeObject | None:
    """The ownerReference with `controller: true`, if any (there is at most one)."""
    for reference in owner_references(obj):
        if reference.get("controller"):
            return reference
    return None


def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> "" (the core group)."""
    return api_version.rpartition("/")[0]


def micro_time(moment: dt.datetime | None = None) -> str:
    """RFC 3339 UTC with exactly six fractional digits (Kubernetes MicroTime)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    """Parse a Kubernetes Time or MicroTime (`...Z`, with or without fractions)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

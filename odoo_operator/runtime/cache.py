"""The informer's store: objects by key, plus indexes; read through `Lister`s.

Guarantees:
- the store holds read-only objects (see `objects.freeze`), so what a lister hands out
  can be kept and compared freely but never mutated;
- every index is updated in the same step as the object it indexes: a lookup by index
  never returns a key whose object no longer carries that index value;
- built-in indexes: `namespace` and `owner` (the uids of all ownerReferences);
  others are added with `add_index(name, function)` (for example
  `spec.odooInstanceRef.name`), also after objects are stored; an index function that
  raises is logged and indexes nothing for that object (the object is still stored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import structlog

from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of, owner_references

_log = structlog.get_logger(__name__)

ObjectList = list[KubeObject]
IndexFunction = Callable[[KubeObject], Iterable[str]]

NAMESPACE_INDEX = "namespace"
OWNER_INDEX = "owner"


def _namespace_values(obj: KubeObject) -> Iterable[str]:
    return (obj["metadata"].get("namespace") or "",)


def _owner_values(obj: KubeObject) -> Iterable[str]:
    return [str(ref["uid"]) for ref in owner_references(obj) if ref.get("uid")]


class Store:
    """Objects by `ObjectKey`, with named indexes. Not thread-safe; one event loop."""

    def __init__(self) -> None:
        self._objects: dict[ObjectKey, KubeObject] = {}
        self._index_functions: dict[str, IndexFunction] = {}
        self._indexes: dict[str, dict[str, set[ObjectKey]]] = {}
        self.add_index(NAMESPACE_INDEX, _namespace_values)
        self.add_index(OWNER_INDEX, _owner_values)

    def add_index(self, name: str, function: IndexFunction) -> None:
        if name in self._index_functions:
            raise ValueError(f"index {name!r} already exists")
        self._index_functions[name] = function
        self._indexes[name] = {}
        for key, obj in self._objects.items():
            self._index_one(name, key, obj)

    def _values(self, name: str, key: ObjectKey, obj: KubeObject) -> Iterable[str]:
        """Index values of `obj`; a failing index function indexes nothing (and says so)."""
        try:
            return list(self._index_functions[name](obj))
        except Exception:
            _log.exception("index function failed", index=name, key=str(key))
            return ()

    def _index_one(self, name: str, key: ObjectKey, obj: KubeObject) -> None:
        index = self._indexes[name]
        for value in self._values(name, key, obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: ObjectKey, obj: KubeObject) -> None:
        for name in self._index_functions:
            index = self._indexes[name]
            for value in self._values(name, key, obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def put(self, obj: KubeObject) -> KubeObject | None:
        """Store `obj`; return the object it replaced, if any."""
        key = key_of(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        for name in self._index_functions:
            self._index_one(name, key, obj)
        return old

    def delete(self, key: ObjectKey) -> KubeObject | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def get(self, key: ObjectKey) -> KubeObject | None:
        return self._objects.get(key)

    def keys(self) -> list[ObjectKey]:
        return list(self._objects)

    def values(self) -> Iterator[KubeObject]:
        return iter(list(self._objects.values()))

    def by_index(self, name: str, value: str) -> list[KubeObject]:
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r}; known: {sorted(self._indexes)}")
        keys = self._indexes[name].get(value, ())
        return [self._objects[key] for key in sorted(keys)]

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: object) -> bool:
        return key in self._objects


def _labels_match(obj: KubeObject, selector: Mapping[str, str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


class Lister:
    """Read-only queries on one informer's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: ObjectKey) -> KubeObject | None:
        """The cached object under `key` (namespace "" for cluster-scoped kinds), or None."""
        if not isinstance(key, ObjectKey):
            raise TypeError(f"Lister.get takes an ObjectKey(namespace, name), not {key!r}")
        return self._store.get(key)

    def list(
        self, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> ObjectList:
        """Objects in `namespace` (None: all), whose labels include `labels`, by key."""
        if namespace is None:
            objects = sorted(self._store.values(), key=key_of)
        else:
            objects = self._store.by_index(NAMESPACE_INDEX, namespace)
        if labels:
            return [obj for obj in objects if _labels_match(obj, labels)]
        return objects

    def by_index(self, index: str, value: str) -> ObjectList:
        return self._store.by_index(index, value)

    def owned_by(self, owner_uid: str) -> ObjectList:
        return self._store.by_index(OWNER_INDEX, owner_uid)

    def __len__(self) -> int:
        return len(self._store)

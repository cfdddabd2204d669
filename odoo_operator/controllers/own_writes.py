"""Read your own writes: what this process last wrote, until the cache has caught up.

An informer learns of our own write a moment after the API server answered it. A
reconcile that runs in that moment (an immediate requeue after a phase change, or the
re-run of a key that was dirtied while it was processed) would otherwise decide again
from the older copy: write the same change twice, announce the same phase change twice.

Guarantees:
- `remember(resource, obj)` keeps the object a write returned; `freshest(resource, key,
  cached)` returns it instead of the cached copy until the informer delivers that
  version of the object or a later one;
- a deletion seen by the informer drops what was remembered (a deleted object is never
  hidden behind an older write of ours);
- resourceVersions are compared as integers (etcd's revisions); when either is not one,
  the informer's copy wins.

Attach `handler(resource)` to the resource's informer (`Informer.add_handler`).
"""

from __future__ import annotations

from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of, resource_version
from odoo_operator.runtime.resources import Resource


def _older(mine: KubeObject, seen: KubeObject) -> bool:
    """True unless `mine` is strictly newer than what the informer saw."""
    try:
        return int(resource_version(mine)) <= int(resource_version(seen))
    except ValueError:
        return True


class OwnWrites:
    def __init__(self) -> None:
        self._written: dict[tuple[Resource, ObjectKey], KubeObject] = {}

    def remember(self, resource: Resource, obj: KubeObject) -> None:
        self._written[(resource, key_of(obj))] = obj

    def freshest(
        self, resource: Resource, key: ObjectKey, cached: KubeObject | None
    ) -> KubeObject | None:
        mine = self._written.get((resource, key))
        if mine is None:
            return cached
        if cached is not None and _older(mine, cached):
            del self._written[(resource, key)]
            return cached
        return mine

    def forget(self, resource: Resource, key: ObjectKey) -> None:
        self._written.pop((resource, key), None)

    def handler(self, resource: Resource) -> _Seen:
        return _Seen(self, resource)

    def __len__(self) -> int:
        return len(self._written)


class _Seen:
    """An informer handler dropping remembered writes once the informer has them."""

    def __init__(self, writes: OwnWrites, resource: Resource) -> None:
        self._writes = writes
        self._resource = resource

    def _seen(self, obj: KubeObject) -> None:
        entry = (self._resource, key_of(obj))
        mine = self._writes._written.get(entry)
        if mine is not None and _older(mine, obj):
            del self._writes._written[entry]

    def on_add(self, obj: KubeObject) -> None:
        self._seen(obj)

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self._seen(new)

    def on_delete(self, obj: KubeObject) -> None:
        self._writes.forget(self._resource, key_of(obj))

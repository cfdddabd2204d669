"""From cache events to work-queue keys: for(kind), owns(kind), watches(kind, mapper).

- `object_key`: the object's own key (the controller's primary kind).
- `controller_owner_key(owner)`: the key of the object's controller ownerReference when
  that owner is of the given kind (group and kind compared, version ignored, as
  controller-runtime does); objects without one map to nothing.
- A mapper is any function from an object to keys (e.g. a job resource to its
  instance). On updates the keys of the old and the new object are both enqueued, so
  a relation that changed notifies both sides. A mapper that raises is logged by the
  informer and maps to nothing.
- `ignore` (optional, controller-runtime's predicates): an add or a change whose (new)
  object it returns True for enqueues nothing, e.g. the echo of the controller's own
  write (`own_writes`). Deletions and resyncs (an object delivered as an update to
  itself) are never ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from odoo_operator.runtime.objects import KubeObject, ObjectKey, api_group, controller_owner, key_of
from odoo_operator.runtime.resources import Resource

Mapper = Callable[[KubeObject], Iterable[ObjectKey]]
Ignore = Callable[[KubeObject], bool]


def object_key(obj: KubeObject) -> Iterable[ObjectKey]:
    return (key_of(obj),)


def controller_owner_key(owner: Resource) -> Mapper:
    def owner_key(obj: KubeObject) -> Iterable[ObjectKey]:
        reference = controller_owner(obj)
        if reference is None:
            return ()
        if reference.get("kind") != owner.kind:
            return ()
        if api_group(str(reference.get("apiVersion", ""))) != owner.group:
            return ()
        namespace = (obj["metadata"].get("namespace") or "") if owner.namespaced else ""
        return (ObjectKey(namespace, str(reference["name"])),)

    return owner_key


class EnqueueMapped:
    """An informer event handler that adds the mapper's keys to a queue."""

    def __init__(
        self, mapper: Mapper, enqueue: Callable[[ObjectKey], None], ignore: Ignore | None = None
    ) -> None:
        self.mapper = mapper
        self.enqueue = enqueue
        self.ignore = ignore

    def on_add(self, obj: KubeObject) -> None:
        if self.ignore is not None and self.ignore(obj):
            return
        for key in self.mapper(obj):
            self.enqueue(key)

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        if old is not new and self.ignore is not None and self.ignore(new):
            return
        keys = set(self.mapper(new))
        if old is not new:
            keys.update(self.mapper(old))
        for key in sorted(keys):
            self.enqueue(key)

    def on_delete(self, obj: KubeObject) -> None:
        for key in self.mapper(obj):
            self.enqueue(key)

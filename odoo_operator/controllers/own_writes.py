"""Read your own writes, and know their echo: what this process last wrote.

An informer learns of our own write a moment after the API server answered it. A
reconcile that runs in that moment (an immediate requeue after a phase change, or the
re-run of a key that was dirtied while it was processed) would otherwise decide again
from the older copy: write the same change twice, announce the same phase change twice.
And the informer's delivery of that write (its echo) would reconcile the owner once
more, to find that nothing changed: most reconciles of a converging instance were such
echoes.

Guarantees:
- `remember(resource, obj)` keeps the object a write returned; `freshest(resource, key,
  cached)` returns it instead of the cached copy until the informer delivers that
  version of the object or a later one;
- `is_echo(resource, obj)` is True exactly when `obj` carries the resourceVersion the
  last remembered write of that object returned: the informer delivering our own write.
  Any other version (someone else's change: a user's edit, the status a controller
  writes) and every deletion are not echoes. It stays True for every handler of the
  event that delivers the echo (the `handler` drops it when the informer moves on);
- a deletion seen by the informer drops what was remembered (a deleted object is never
  hidden behind an older write of ours);
- resourceVersions are compared as integers (etcd's revisions); when either is not one,
  the informer's copy wins and nothing is taken for an echo.

Attach `handler(resource)` to the resource's informer (`Informer.add_handler`) before
any handler that asks `is_echo`.

Not an echo, though it looks like one: a write that changed nothing on the server
returns the version someone else wrote. Our writes are sent only when the cache shows
a difference (or, for merge patches, with the cached resourceVersion as a
precondition), so this takes another writer of exactly the same values between the
cache and the write; its event is then not reconciled again.
"""

from __future__ import annotations

from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of, resource_version
from odoo_operator.runtime.resources import Resource

_Entry = tuple[Resource, ObjectKey]


def _version(obj: KubeObject) -> int | None:
    try:
        return int(resource_version(obj))
    except ValueError:
        return None


def _older(mine: KubeObject, seen: KubeObject) -> bool:
    """True unless `mine` is strictly newer than what the informer saw."""
    ours, theirs = _version(mine), _version(seen)
    return ours is None or theirs is None or ours <= theirs


class OwnWrites:
    def __init__(self) -> None:
        self._written: dict[_Entry, KubeObject] = {}  # newer than the cache (so far)
        self._versions: dict[_Entry, int] = {}  # what the last write returned, until seen

    def remember(self, resource: Resource, obj: KubeObject) -> None:
        entry = (resource, key_of(obj))
        self._written[entry] = obj
        version = _version(obj)
        if version is None:
            self._versions.pop(entry, None)
        else:
            self._versions[entry] = version

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

    def is_echo(self, resource: Resource, obj: KubeObject) -> bool:
        version = self._versions.get((resource, key_of(obj)))
        return version is not None and version == _version(obj)

    def forget(self, resource: Resource, key: ObjectKey) -> None:
        self._written.pop((resource, key), None)
        self._versions.pop((resource, key), None)

    def handler(self, resource: Resource) -> _Seen:
        return _Seen(self, resource)

    def __len__(self) -> int:
        return len(self._written)


class _Seen:
    """An informer handler dropping remembered writes once the informer has them.

    The version of an echo is kept while that event goes through the informer's other
    handlers (they ask `is_echo`), and dropped when the next event arrives: handlers run
    one event at a time, in the order they were added.
    """

    def __init__(self, writes: OwnWrites, resource: Resource) -> None:
        self._writes = writes
        self._resource = resource
        self._echo: _Entry | None = None  # the entry of the echo being delivered

    def _next_event(self) -> None:
        if self._echo is not None:
            self._writes._versions.pop(self._echo, None)
            self._echo = None

    def _seen(self, obj: KubeObject) -> None:
        self._next_event()
        entry = (self._resource, key_of(obj))
        mine = self._writes._written.get(entry)
        if mine is not None and _older(mine, obj):
            del self._writes._written[entry]
        version = self._writes._versions.get(entry)
        seen = _version(obj)
        if version is not None and (seen is None or seen >= version):
            if seen == version:
                self._echo = entry
            else:
                del self._writes._versions[entry]

    def on_add(self, obj: KubeObject) -> None:
        self._seen(obj)

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self._seen(new)

    def on_delete(self, obj: KubeObject) -> None:
        self._next_event()
        self._writes.forget(self._resource, key_of(obj))

"""Build the `ReconcileSnapshot` of an instance from the informer caches only.

Guarantees: no API request is made here; every guard of the state table therefore reads
one consistent picture taken at one moment. Inputs: the instance (the freshest copy, see
`own_writes`), its web Deployment, its job resources and their batch Jobs (see `jobs`),
and the blocker found earlier in the reconcile (why the spec cannot be acted on, if so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from odoo_operator.controllers.instance import jobs
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.snapshot import JobSlot, ReconcileSnapshot
from odoo_operator.controllers.own_writes import OwnWrites
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of
from odoo_operator.runtime.resources import BATCH_JOBS


@dataclass(frozen=True)
class JobCaches:
    """The job resource caches by slot name (`jobs.KINDS`), and the batch Jobs.

    `writes` holds the batch Jobs this process created and its cache may not show yet
    (shared with the job controllers): a Job just created is never taken for vanished.
    """

    by_kind: Mapping[str, Lister]
    batch_jobs: Lister
    writes: OwnWrites = field(default_factory=OwnWrites)

    def batch_job(self, key: ObjectKey) -> KubeObject | None:
        return self.writes.freshest(BATCH_JOBS, key, self.batch_jobs.get(key))


def current_phase(instance: KubeObject) -> Phase:
    phase = str((instance.get("status") or {}).get("phase") or "")
    return Phase(phase) if phase in Phase._value2member_map_ else Phase.PROVISIONING


def ready_replicas(web: KubeObject | None) -> int:
    return int(((web or {}).get("status") or {}).get("readyReplicas") or 0)


def build(
    instance: KubeObject,
    web: KubeObject | None,
    caches: JobCaches,
    blocker: str | None,
    moment: dt.datetime | None = None,
) -> ReconcileSnapshot:
    moment = moment or dt.datetime.now(dt.UTC)
    key: ObjectKey = key_of(instance)
    slots: dict[str, JobSlot | None] = {}
    backups_pending = 0
    for kind, lister in caches.by_kind.items():
        waiting = jobs.pending(lister, key)
        slots[kind] = jobs.slot(waiting[0], caches.batch_job, moment) if waiting else None
        if kind == "backup":
            backups_pending = len(waiting)
    spec = instance.get("spec") or {}
    status = instance.get("status") or {}
    return ReconcileSnapshot(
        phase=current_phase(instance),
        replicas=int(spec.get("replicas", 1)),
        ready_replicas=ready_replicas(web),
        db_initialized=bool(status.get("dbInitialized")),
        blocker=blocker,
        init=slots.get("init"),
        restore=slots.get("restore"),
        upgrade=slots.get("upgrade"),
        backup=slots.get("backup"),
        backups_pending=backups_pending,
    )

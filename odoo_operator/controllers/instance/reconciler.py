"""The OdooInstance reconciler: every reconcile, in SPEC §3's order.

1. a deleted instance runs its finalizer (`cleanup`) and nothing else;
2. the finalizer `bemade.org/postgres-cleanup` and the spec defaults, in one write
   (event `DefaultsApplied`);
3. the database cluster is resolved from the clusters Secret;
4. the children are written (`ensure`);
5. an immutable `ReconcileSnapshot` is taken from the caches (`snapshot_builder`);
6. the state table picks at most one transition; its actions run;
7. the status is written (skipped when unchanged);
8. on a phase change: event `PhaseChanged` and the `spec.webhook` notification.

A transition requeues at once; an upgrade that is not due yet requeues at its time. When
step 3 or 4 is blocked (`Blocked`: clusters Secret, PostgreSQL, pull secret, a child the
API server refuses), the instance goes to Error with the cause in `status.message` and a
Warning event, and the reconcile is retried with backoff (2 s doubling to 5 min, per
instance); once the cause is gone the table leaves Error. A failed cleanup is retried
the same way. Nothing here blocks on a webhook receiver.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from pydantic import ValidationError

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance import cleanup, jobs, names, snapshot_builder
from odoo_operator.controllers.instance.blocked import Blocked
from odoo_operator.controllers.instance.clusters import ClustersError, pick
from odoo_operator.controllers.instance.context import Context
from odoo_operator.controllers.instance.defaults import spec_defaults
from odoo_operator.controllers.instance.ensure import ensure_children, replicas
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.snapshot import JobOutcome, ReconcileSnapshot
from odoo_operator.controllers.instance.status import Observed, desired_status, now
from odoo_operator.controllers.instance.table import Action, next_transition
from odoo_operator.controllers.notify import Notification
from odoo_operator.controllers.resources import ODOO_INSTANCES
from odoo_operator.runtime.backoff import Backoff
from odoo_operator.runtime.objects import KubeObject, ObjectKey, freeze, strip_managed_fields, thaw
from odoo_operator.runtime.reconcile import DONE, Result
from odoo_operator.runtime.resources import DEPLOYMENTS

_log = structlog.get_logger(__name__)

IMMEDIATELY = 0.001  # seconds: "requeue now", after the work queue's bookkeeping
_FINISH = {
    Action.FINISH_INIT: "init",
    Action.FINISH_RESTORE: "restore",
    Action.FINISH_UPGRADE: "upgrade",
    Action.FINISH_BACKUP: "backup",
}


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


def _message(phase: Phase, snapshot: ReconcileSnapshot, blocker: str | None) -> str | None:
    """Why the instance is in `phase`, for `status.message` (None when nothing to say)."""
    if blocker is not None:
        return blocker
    if phase is Phase.UNINITIALIZED:
        return "the database is not initialized: create an OdooInitJob, or set spec.init"
    if phase is Phase.INIT_FAILED:
        return "initialization failed: create a new OdooInitJob to try again"
    if phase in (Phase.STARTING, Phase.DEGRADED):
        return f"{snapshot.ready_replicas}/{snapshot.replicas} web pods ready"
    return None


class InstanceReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._backoffs: dict[ObjectKey, Backoff] = {}

    def _retry_after(self, key: ObjectKey) -> Result:
        backoff = self._backoffs.setdefault(key, Backoff(2.0, 300.0, reset_after=900.0))
        return Result(requeue_after=backoff.next_delay())

    async def reconcile(self, key: ObjectKey) -> Result:
        ctx = self.ctx
        obj = ctx.writes.freshest(ODOO_INSTANCES, key, ctx.caches.instances.get(key))
        if obj is None:
            self._backoffs.pop(key, None)
            return DONE
        if obj["metadata"].get("deletionTimestamp"):
            return await self._finalize(obj, key)
        blocker: Blocked | None = None
        instance: OdooInstance | None = None
        try:
            instance = OdooInstance.model_validate(thaw(obj))
        except ValidationError as error:
            blocker = Blocked("InvalidSpec", _validation_message(error))
        if instance is not None:
            obj, instance = await self._prepare(obj, instance)
            try:
                cluster = pick(
                    ctx.clusters(),
                    instance.spec.database.cluster,
                    ctx.settings.postgres_clusters_secret,
                )
                phase = snapshot_builder.current_phase(obj)
                db_initialized = bool((obj.get("status") or {}).get("dbInitialized"))
                await ensure_children(ctx, instance, cluster, phase, db_initialized)
            except ClustersError as error:
                blocker = Blocked("ClusterUnresolved", str(error))
            except Blocked as error:
                blocker = error
        return await self._decide(key, obj, instance, blocker)

    async def _prepare(
        self, obj: KubeObject, instance: OdooInstance
    ) -> tuple[KubeObject, OdooInstance]:
        """Finalizer and spec defaults, in one merge patch (when anything is missing)."""
        ctx = self.ctx
        defaults = spec_defaults(instance, ctx.settings, ctx.default_cluster())
        finalizers = list(obj["metadata"].get("finalizers") or ())
        if not defaults and names.FINALIZER in finalizers:
            return obj, instance
        metadata: dict[str, Any] = {"resourceVersion": obj["metadata"]["resourceVersion"]}
        if names.FINALIZER not in finalizers:
            metadata["finalizers"] = [*finalizers, names.FINALIZER]
        patch: dict[str, Any] = {"metadata": metadata}
        if defaults:
            patch["spec"] = defaults
        key = ObjectKey(obj["metadata"]["namespace"], obj["metadata"]["name"])
        updated = await ctx.client.merge_patch(ODOO_INSTANCES, key.name, patch, key.namespace)
        fresh: KubeObject = freeze(strip_managed_fields(updated))
        ctx.writes.remember(ODOO_INSTANCES, fresh)
        if defaults:
            fields = ", ".join(_paths("spec", defaults))
            ctx.recorder.record(fresh, "Normal", "DefaultsApplied", f"set {fields}")
        return fresh, OdooInstance.model_validate(thaw(fresh))

    async def _decide(
        self,
        key: ObjectKey,
        obj: KubeObject,
        instance: OdooInstance | None,
        blocked: Blocked | None,
    ) -> Result:
        ctx = self.ctx
        blocker = None if blocked is None else str(blocked)
        web = ctx.current(DEPLOYMENTS, ObjectKey(key.namespace, names.web(key.name)))
        snapshot = snapshot_builder.build(obj, web, ctx.caches.jobs, blocker)
        transition = next_transition(snapshot)
        phase = transition.target if transition else snapshot.phase
        actions = transition.actions if transition else ()
        db_initialized = snapshot.db_initialized or Action.MARK_DB_INITIALIZED in actions
        await self._run_actions(actions, obj, snapshot)
        target = 0
        url = None
        if instance is not None:
            target = replicas(instance, phase, db_initialized).web
            hosts = instance.spec.ingress.hosts if instance.spec.ingress else ()
            url = f"https://{hosts[0]}" if hosts else None
        observed = Observed(
            instance=key.name,
            phase=phase,
            generation=int(obj["metadata"].get("generation") or 0),
            ready_replicas=snapshot.ready_replicas,
            target_replicas=target,
            db_initialized=db_initialized,
            url=url,
            message=_message(phase, snapshot, blocker),
            last_backup=_backup_succeeded_at(actions, snapshot),
        )
        body = {
            "apiVersion": ODOO_INSTANCES.api_version,
            "kind": ODOO_INSTANCES.kind,
            "metadata": {"name": key.name, "namespace": key.namespace},
            "status": desired_status(observed, obj.get("status")),
        }
        applied = await ctx.applier.apply_status(ODOO_INSTANCES, body, obj)
        if applied.written:
            ctx.writes.remember(ODOO_INSTANCES, applied.object)
        if phase is not snapshot.phase:
            self._announce(applied.object, snapshot.phase, phase, url)
        if blocked is not None:
            ctx.recorder.record(applied.object, "Warning", blocked.reason, str(blocked))
            _log.warning("instance blocked", reason=blocked.reason, message=str(blocked))
            return self._retry_after(key)
        self._backoffs.pop(key, None)
        if transition is not None:
            return Result(requeue_after=IMMEDIATELY)
        return self._until_upgrade_due(obj, snapshot)

    async def _run_actions(
        self, actions: tuple[Action, ...], obj: KubeObject, snapshot: ReconcileSnapshot
    ) -> None:
        ctx = self.ctx
        for action in actions:
            if action is Action.RESTART_WEB:
                metadata = obj["metadata"]
                annotations = {names.RESTARTED_AT_ANNOTATION: now()}
                patch = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
                await ctx.client.merge_patch(
                    DEPLOYMENTS, names.web(metadata["name"]), patch, metadata["namespace"]
                )
            elif action in _FINISH:
                kind = _FINISH[action]
                slot = getattr(snapshot, kind)
                if slot is not None:
                    job = ctx.caches.jobs.by_kind[kind].get(ObjectKey(slot.namespace, slot.name))
                    await jobs.finish(
                        ctx.client,
                        ctx.notifier,
                        kind,
                        job,
                        slot,
                        find_batch_job=ctx.caches.jobs.batch_job,
                    )
            # MARK_DB_INITIALIZED is written with the status.

    def _announce(self, obj: KubeObject, previous: Phase, phase: Phase, url: str | None) -> None:
        ctx = self.ctx
        ctx.recorder.record(obj, "Normal", "PhaseChanged", f"{previous.value} -> {phase.value}")
        _log.info("phase changed", previous=previous.value, phase=phase.value)
        webhook = OdooInstance.model_validate(thaw(obj)).spec.webhook
        if webhook is None:
            return
        metadata = obj["metadata"]
        payload = {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "phase": phase.value,
            "previousPhase": previous.value,
            "url": url,
            "timestamp": now(),
        }
        ctx.notifier.notify(Notification(webhook, metadata["namespace"], payload))

    def _until_upgrade_due(self, obj: KubeObject, snapshot: ReconcileSnapshot) -> Result:
        upgrade = snapshot.upgrade
        if upgrade is None or upgrade.due:
            return DONE
        job = self.ctx.caches.jobs.by_kind["upgrade"].get(
            ObjectKey(upgrade.namespace, upgrade.name)
        )
        due = jobs.due_at(job) if job is not None else None
        if due is None:
            return DONE
        wait = (due - dt.datetime.now(dt.UTC)).total_seconds()
        return Result(requeue_after=max(wait, IMMEDIATELY))

    async def _finalize(self, obj: KubeObject, key: ObjectKey) -> Result:
        try:
            await cleanup.finalize(self.ctx, obj)
        except cleanup.CleanupFailed as error:
            self.ctx.recorder.record(obj, "Warning", "CleanupFailed", str(error))
            _log.warning("cleanup failed; retrying", error=str(error))
            return self._retry_after(key)
        self._backoffs.pop(key, None)
        return DONE


def _backup_succeeded_at(actions: tuple[Action, ...], snapshot: ReconcileSnapshot) -> str | None:
    """Now, when this reconcile finishes a backup that succeeded (`status.lastBackup`)."""
    backup = snapshot.backup
    if Action.FINISH_BACKUP in actions and backup and backup.outcome is JobOutcome.SUCCEEDED:
        return now()
    return None


def _paths(prefix: str, values: dict[str, Any]) -> list[str]:
    """`spec.database.name`-style paths of every leaf of a nested patch."""
    paths: list[str] = []
    for field, value in values.items():
        path = f"{prefix}.{field}"
        if isinstance(value, dict) and value and field not in ("resources", "affinity"):
            paths.extend(_paths(path, value))
        else:
            paths.append(path)
    return paths

"""The finalizer `bemade.org/postgres-cleanup` (SPEC §5): what deleting an instance does.

Guarantees, in order, each step before the next:
1. the web and cron Deployments are scaled to 0 (no Odoo pod keeps working on the
   database while it goes away, and none holds it open: the earlier implementation
   deadlocked there);
2. the instance's sessions are ended and its database, the leftovers of an interrupted
   restore of it, and its role are dropped (`PostgresAdmin.drop_instance`);
3. only then is the finalizer removed (with the object's resourceVersion as a
   precondition); the API server then deletes the instance, and the garbage collector
   its children.
When step 1 or 2 fails (PostgreSQL down, clusters Secret unusable), the finalizer stays,
a Warning event `CleanupFailed` says why, and the cleanup is retried with backoff. An
instance whose database cluster was never resolved has nothing to drop. To give up on a
cluster that is gone for good, remove the finalizer by hand (docs/instance.md).
"""

from __future__ import annotations

from odoo_operator.controllers.instance import names
from odoo_operator.controllers.instance.clusters import ClustersError, pick
from odoo_operator.controllers.instance.context import Context
from odoo_operator.controllers.instance.postgres import PostgresError
from odoo_operator.controllers.resources import ODOO_INSTANCES
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import KubeObject, ObjectKey, freeze, strip_managed_fields
from odoo_operator.runtime.resources import DEPLOYMENTS


class CleanupFailed(Exception):
    """The database or role could not be dropped yet; the message says why."""


async def _scale_down(ctx: Context, namespace: str, instance: str) -> None:
    for name in (names.web(instance), names.cron(instance)):
        key = ObjectKey(namespace, name)
        current = ctx.current(DEPLOYMENTS, key)
        if current is None or not (current.get("spec") or {}).get("replicas"):
            continue
        try:
            scaled = await ctx.client.merge_patch(
                DEPLOYMENTS, name, {"spec": {"replicas": 0}}, namespace
            )
        except ApiError as error:
            if error.not_found:
                continue
            raise
        ctx.writes.remember(DEPLOYMENTS, freeze(strip_managed_fields(scaled)))


async def _drop(ctx: Context, obj: KubeObject) -> None:
    metadata = obj["metadata"]
    database = (obj.get("spec") or {}).get("database") or {}
    if not database.get("cluster") or not database.get("name"):
        return  # never defaulted: no role or database was ever made for it
    try:
        cluster = pick(ctx.clusters(), database["cluster"], ctx.settings.postgres_clusters_secret)
    except ClustersError as error:
        raise CleanupFailed(str(error)) from error
    role = names.role_name(metadata["namespace"], metadata["name"])
    try:
        await ctx.database.drop_instance(cluster, role, database["name"])
    except PostgresError as error:
        raise CleanupFailed(str(error)) from error


async def finalize(ctx: Context, obj: KubeObject) -> bool:
    """Run the cleanup of a deleted instance; True when the finalizer was removed.

    Raises `CleanupFailed` (the caller records it and retries).
    """
    metadata = obj["metadata"]
    finalizers = list(metadata.get("finalizers") or ())
    if names.FINALIZER not in finalizers:
        return True
    await _scale_down(ctx, metadata["namespace"], metadata["name"])
    await _drop(ctx, obj)
    patch = {
        "metadata": {
            "resourceVersion": metadata["resourceVersion"],
            "finalizers": [f for f in finalizers if f != names.FINALIZER] or None,
        }
    }
    try:
        await ctx.client.merge_patch(ODOO_INSTANCES, metadata["name"], patch, metadata["namespace"])
    except ApiError as error:
        if error.not_found:
            return True
        raise
    ctx.writes.forget(ODOO_INSTANCES, ObjectKey(metadata["namespace"], metadata["name"]))
    return True

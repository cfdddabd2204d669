"""Write the children of an instance (SPEC §4, §5): what `children`/`pods` describe.

Guarantees:
- `<name>-odoo-user` is created once, with a POST (never applied: an apply after a stale
  read could replace the password); when it exists, its password is used as it is, and
  a missing generated `admin-password` is added without touching the rest;
- the image pull secret is copied from the operator namespace (`Blocked` when it is not
  there); the PostgreSQL role is ensured (`Blocked` when the cluster refuses or cannot be
  reached) at the same time as the other children are written: until the database is
  initialised no Odoo pod runs (replicas 0), and an initialised instance's conf only
  changes with its password, which the role check brings in line;
- every other child is written with server-side apply through the applier, all at once,
  so an unchanged child costs no request; a child the API server rejects as invalid
  (400/422) is `Blocked` with the server's message; an Ingress left over after the hosts
  were removed is deleted;
- replicas: web `R` and cron `cron.replicas` once the database is initialised; both 0
  before that, when `R` is 0, and while restoring; cron 0 while upgrading.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers.instance import children, names, odooconf, pods
from odoo_operator.controllers.instance.blocked import Blocked
from odoo_operator.controllers.instance.children import Owner
from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.controllers.instance.context import Context, decode
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.postgres import PostgresError
from odoo_operator.controllers.resources import ODOO_INIT_JOBS
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import (
    KubeObject,
    ObjectKey,
    freeze,
    key_of,
    strip_managed_fields,
)
from odoo_operator.runtime.resources import (
    DEPLOYMENTS,
    INGRESSES,
    PERSISTENT_VOLUME_CLAIMS,
    SECRETS,
    SERVICES,
    Resource,
)


@dataclass(frozen=True)
class Replicas:
    web: int
    cron: int


def replicas(instance: OdooInstance, phase: Phase, db_initialized: bool) -> Replicas:
    wanted = instance.spec.replicas
    if not db_initialized or wanted == 0 or phase is Phase.RESTORING:
        return Replicas(0, 0)
    cron = 0 if phase is Phase.UPGRADING else instance.spec.cron.replicas
    return Replicas(wanted, cron)


def _stored(obj: KubeObject) -> KubeObject:
    frozen: KubeObject = freeze(strip_managed_fields(dict(obj)))
    return frozen


async def _user_secret(ctx: Context, owner: Owner, instance: OdooInstance) -> KubeObject:
    key = ObjectKey(owner.namespace, names.user_secret(owner.name))
    current = ctx.current(SECRETS, key)
    if current is None:
        admin = None if instance.spec.admin_password else secrets.token_urlsafe(24)
        body = children.user_secret(
            owner, names.role_name(owner.namespace, owner.name), secrets.token_hex(32), admin
        )
        try:
            current = _stored(await ctx.client.create(SECRETS, body))
        except ApiError as error:
            if not error.conflict:
                raise
            # There already (the cache is late, or an older Secret without our label).
            current = _stored(await ctx.client.get(SECRETS, key.name, key.namespace))
            labels = current["metadata"].get("labels") or {}
            if labels.get(names.MANAGED_BY) != names.MANAGER:
                patch = {"metadata": {"labels": {names.MANAGED_BY: names.MANAGER}}}
                current = _stored(
                    await ctx.client.merge_patch(SECRETS, key.name, patch, key.namespace)
                )
        ctx.writes.remember(SECRETS, current)
    if instance.spec.admin_password is None and (
        decode(current, names.USER_SECRET_ADMIN_PASSWORD) is None
    ):
        value = children.encode({names.USER_SECRET_ADMIN_PASSWORD: secrets.token_urlsafe(24)})
        admin_patch: dict[str, Any] = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "data": value,
        }
        current = _stored(
            await ctx.client.merge_patch(SECRETS, key.name, admin_patch, key.namespace)
        )
        ctx.writes.remember(SECRETS, current)
    return current


def _pull_secret(ctx: Context, instance: OdooInstance, namespace: str) -> dict[str, Any] | None:
    name = instance.spec.image_pull_secret
    if not name or namespace == ctx.settings.operator_namespace:
        return None
    source = ctx.caches.operator_secrets.get(ObjectKey(ctx.settings.operator_namespace, name))
    if source is None:
        raise Blocked(
            "PullSecretMissing",
            f"spec.imagePullSecret: Secret {name} not found in the operator namespace "
            f"{ctx.settings.operator_namespace}",
        )
    return children.pull_secret_copy(namespace, source)


async def _apply(ctx: Context, resource: Resource, body: dict[str, Any]) -> None:
    key = key_of(body)
    try:
        applied = await ctx.applier.apply(resource, body, ctx.current(resource, key))
    except ApiError as error:
        if error.status in (400, 422):
            raise Blocked(
                "InvalidSpec", f"{resource.kind} {key.name} was refused: {error.message}"
            ) from error
        raise
    if applied.written:
        ctx.writes.remember(resource, applied.object)


async def _ensure_role(ctx: Context, cluster: Cluster, role: str, password: str) -> None:
    try:
        await ctx.database.ensure_role(cluster, role, password)
    except PostgresError as error:
        raise Blocked("PostgresUnavailable", str(error)) from error


async def _remove_ingress(ctx: Context, owner: Owner) -> None:
    key = ObjectKey(owner.namespace, names.web(owner.name))
    current = ctx.current(INGRESSES, key)
    if current is None:
        return
    try:
        await ctx.client.delete(INGRESSES, key.name, key.namespace)
    except ApiError as error:
        if not error.not_found:
            raise
    ctx.writes.forget(INGRESSES, key)


async def ensure_children(
    ctx: Context,
    instance: OdooInstance,
    cluster: Cluster,
    phase: Phase,
    db_initialized: bool,
) -> None:
    """Write every child; raises `Blocked` when the spec or the cluster stops it."""
    owner = Owner.of(instance)
    user = await _user_secret(ctx, owner, instance)
    password = decode(user, names.USER_SECRET_PASSWORD)
    if not password:
        raise Blocked(
            "InvalidSecret",
            f"Secret {names.user_secret(owner.name)} has no key {names.USER_SECRET_PASSWORD}: "
            "delete it to have it recreated",
        )
    admin_password = instance.spec.admin_password or decode(user, names.USER_SECRET_ADMIN_PASSWORD)
    pull_secret = _pull_secret(ctx, instance, owner.namespace)
    role = names.role_name(owner.namespace, owner.name)
    database = odooconf.Database(
        cluster.host, cluster.port, instance.spec.database.name or "", role, password
    )
    try:
        conf = odooconf.render(database, admin_password, instance.spec.config_options)
    except ValueError as error:
        raise Blocked("InvalidSpec", str(error)) from error
    conf_hash = hashlib.sha256(conf.encode()).hexdigest()
    count = replicas(instance, phase, db_initialized)
    pvc_key = ObjectKey(owner.namespace, names.filestore_pvc(owner.name))
    desired: list[tuple[Resource, dict[str, Any] | None]] = [
        (SECRETS, children.conf_secret(owner, conf)),
        (SECRETS, pull_secret),
        (
            PERSISTENT_VOLUME_CLAIMS,
            children.filestore_pvc(owner, instance, ctx.current(PERSISTENT_VOLUME_CLAIMS, pvc_key)),
        ),
        (SERVICES, children.service(owner)),
        (INGRESSES, children.ingress(owner, instance)),
        (DEPLOYMENTS, pods.web_deployment(owner, instance, count.web, conf_hash)),
        (DEPLOYMENTS, pods.cron_deployment(owner, instance, count.cron, conf_hash)),
        (ODOO_INIT_JOBS, None if db_initialized else children.auto_init_job(owner, instance)),
    ]
    writes = [_ensure_role(ctx, cluster, role, password)]
    writes += [_apply(ctx, resource, body) for resource, body in desired if body is not None]
    if children.ingress(owner, instance) is None:
        writes.append(_remove_ingress(ctx, owner))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Blocked):
            raise outcome
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome

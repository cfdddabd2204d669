"""Secrets a batch Job reads by `secretKeyRef`, made available in the instance's namespace.

Guarantees:
- S3 credentials: the Secret `s3CredentialsSecretRef` names (namespace defaulting to the
  job's) must exist and hold `accessKey` and `secretKey`, else `CannotRun` naming the
  field; in the job's namespace it is used as it is, elsewhere (e.g. the operator
  namespace) those two keys are copied into `<job name>-s3` in the job's namespace,
  owned by the job resource (deleted with it, and when it ends);
- a restore source's `masterPassword` goes into `<job name>-source` the same way:
  the Job's environment never holds a literal secret value;
- a copy that exists already (an operator restarted mid-way) is brought up to date;
- `s3_keys` reads the two keys for the operator's own requests (a schedule's retention)
  with the same checks; the values are returned, never logged.
"""

from __future__ import annotations

import base64
from typing import Any

from odoo_operator.api.job_resources import SecretRef
from odoo_operator.controllers.jobs import batch, naming
from odoo_operator.controllers.jobs.batch import CannotRun, Target
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.jobs.kinds import JobKind, Spec
from odoo_operator.runtime.client import ApiError
from odoo_operator.runtime.objects import KubeObject, ObjectKey
from odoo_operator.runtime.resources import SECRETS

S3_KEYS = (batch.S3_ACCESS_KEY, batch.S3_SECRET_KEY)


async def _read(ctx: JobContext, key: ObjectKey) -> KubeObject | None:
    if key.namespace == ctx.settings.operator_namespace:
        return ctx.operator_secrets.get(key)
    try:
        return await ctx.client.get(SECRETS, key.name, key.namespace)
    except ApiError as error:
        if error.not_found:
            return None
        raise


async def _write(ctx: JobContext, body: dict[str, Any]) -> None:
    try:
        await ctx.client.create(SECRETS, body)
    except ApiError as error:
        if not error.conflict:
            raise
        metadata = body["metadata"]
        await ctx.client.merge_patch(
            SECRETS, metadata["name"], {"data": body["data"]}, metadata["namespace"]
        )


async def s3_keys(ctx: JobContext, where: str, key: ObjectKey) -> dict[str, str]:
    """`accessKey` and `secretKey` of the Secret at `key`; `where` names the field that
    refers to it in the `CannotRun` message. The values stay in memory: never log them."""
    source = await _read(ctx, key)
    if source is None:
        raise CannotRun(f"{where}: Secret {key} not found")
    data = source.get("data") or {}
    missing = [name for name in S3_KEYS if name not in data]
    if missing:
        raise CannotRun(f"{where}: Secret {key} has no key {', '.join(missing)}")
    return {name: base64.b64decode(data[name]).decode() for name in S3_KEYS}


async def s3_secret_for(
    ctx: JobContext, field: str, ref: SecretRef | None, target: Target
) -> str | None:
    """The name of the Secret `field.s3CredentialsSecretRef` names, in the target's
    namespace: itself when it is there, else a copy made for the Job."""
    if ref is None:
        return None
    key = ObjectKey(ref.namespace or target.namespace, ref.name)
    values = await s3_keys(ctx, f"{field}.s3CredentialsSecretRef", key)
    if key.namespace == target.namespace:
        return key.name
    name = naming.s3_credentials_copy(target.job_name)
    await _write(ctx, batch.copied_secret(target, name, values))
    return name


async def s3_secret(ctx: JobContext, kind: JobKind, spec: Spec, target: Target) -> str | None:
    """The name of the S3 credentials Secret in the job's namespace, copied if needed."""
    found = kind.s3(spec)
    if found is None:
        return None
    field, location = found
    return await s3_secret_for(ctx, field, location.s3_credentials_secret_ref, target)


async def source_secret(ctx: JobContext, kind: JobKind, spec: Spec, target: Target) -> str | None:
    password = kind.master_password(spec)
    if password is None:
        return None
    name = naming.source_secret(target.job_name)
    await _write(ctx, batch.copied_secret(target, name, {batch.MASTER_PASSWORD_KEY: password}))
    return name


async def remove(ctx: JobContext, namespace: str, job_name: str) -> None:
    """Delete the Secrets made for the Job `job_name`, if any (it has ended)."""
    for name in (naming.s3_credentials_copy(job_name), naming.source_secret(job_name)):
        if ctx.own_secrets.get(ObjectKey(namespace, name)) is None:
            continue
        try:
            await ctx.client.delete(SECRETS, name, namespace)
        except ApiError as error:
            if not error.not_found:
                raise

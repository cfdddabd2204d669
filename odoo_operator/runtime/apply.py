"""Server-side apply that sends nothing when the cached object already matches.

`Applier.apply(resource, desired, current)` sends `desired` as an apply patch
(`application/apply-patch+yaml`, field manager `odoo-operator`, `force=true`; 200 and 201
both return the object) unless it can tell, from `current` (the cached object), that the
apply would change nothing. It skips only when both hold:
- every field of `desired` is in `current` with the same value (maps: key by key; lists:
  same length, item by item; an empty map, list or null matches an absent field);
- `current` carries the annotation `bemade.org/applied-hash` equal to the hash of
  `desired`, which the applier adds to every body it sends. That proves the previous
  apply was exactly this body, so no field it set was dropped since (a dropped field
  is removed by a real apply, which a containment check alone would never send).
A converged system therefore sends no writes; a changed spec, a field someone else
changed, or a field we stopped setting sends exactly one apply.

Values the server rewrites (quantities such as `1000m` -> `1`) never compare equal:
write them in the server's canonical form, or every reconcile writes.

`apply_status` applies to the `status` subresource and skips when the cached status is
equal to the desired one (same rules, both ways): we own the whole status of our kinds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odoo_operator.runtime.client import FIELD_MANAGER, KubeClient
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import (
    JSON_SCALARS,
    KubeObject,
    freeze,
    strip_managed_fields,
    thaw,
)
from odoo_operator.runtime.resources import Resource

APPLIED_HASH_ANNOTATION = "bemade.org/applied-hash"


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, Mapping | list | tuple) and len(value) == 0)


def _same_scalar(current: Any, desired: Any) -> bool:
    if type(desired) is bool or type(current) is bool:
        return type(desired) is type(current) and desired == current
    return bool(desired == current)


def _contains_map(current: Any, desired: Mapping[str, Any]) -> bool:
    if not isinstance(current, Mapping):
        return not desired and _empty(current)
    for key, value in desired.items():
        if key in current:
            if not contains(current[key], value):
                return False
        elif not _empty(value):
            return False
    return True


def _contains_list(current: Any, desired: list[Any] | tuple[Any, ...]) -> bool:
    if not desired:
        return _empty(current)
    if not isinstance(current, list | tuple) or len(current) != len(desired):
        return False
    return all(contains(have, want) for have, want in zip(current, desired, strict=True))


def contains(current: Any, desired: Any) -> bool:
    """True when every field of `desired` is in `current` with the same value."""
    if type(desired) in JSON_SCALARS:  # most of a body's values: the cheap test first
        return _empty(current) if desired is None else _same_scalar(current, desired)
    if isinstance(desired, Mapping):
        return _contains_map(current, desired)
    if isinstance(desired, list | tuple):
        return _contains_list(current, desired)
    return _same_scalar(current, desired)


def apply_hash(body: Mapping[str, Any]) -> str:
    """A short, stable digest of a body (without the hash annotation itself)."""
    annotations = body.get("metadata", {}).get("annotations") or {}
    plain: Mapping[str, Any] = body
    if APPLIED_HASH_ANNOTATION in annotations:  # copy only when there is one to leave out
        plain = thaw(body)
        plain["metadata"]["annotations"].pop(APPLIED_HASH_ANNOTATION)
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_identity(resource: Resource, body: Mapping[str, Any]) -> None:
    if body.get("apiVersion") != resource.api_version or body.get("kind") != resource.kind:
        raise ValueError(
            f"apply: body apiVersion/kind {body.get('apiVersion')}/{body.get('kind')} "
            f"do not match {resource.api_version}/{resource.kind}"
        )
    metadata = body.get("metadata") or {}
    if not metadata.get("name"):
        raise ValueError(f"apply {resource.kind}: metadata.name is required")
    if resource.namespaced and not metadata.get("namespace"):
        raise ValueError(
            f"apply {resource.kind} {metadata['name']}: metadata.namespace is required"
        )


@dataclass(frozen=True)
class Applied:
    """The object after the apply (the cached one when skipped) and whether we wrote."""

    object: KubeObject
    written: bool


class Applier:
    """Server-side apply through `client`; counts in `applier_applies_total` if given metrics."""

    def __init__(
        self,
        client: KubeClient,
        field_manager: str = FIELD_MANAGER,
        *,
        metrics: RuntimeMetrics | None = None,
    ) -> None:
        self.client = client
        self.field_manager = field_manager
        self._metrics = metrics

    def _count(self, resource: Resource, result: str, *, status: bool = False) -> None:
        if self._metrics is not None:
            label = f"{resource}/status" if status else str(resource)
            self._metrics.applies.labels(label, result).inc()

    def body(self, resource: Resource, desired: Mapping[str, Any]) -> dict[str, Any]:
        """`desired` as it will be sent: checked, with the hash annotation added."""
        _check_identity(resource, desired)
        if "status" in desired:
            raise ValueError(
                f"apply {resource.kind}: the body has a status; use apply_status() for it"
            )
        # Only the path to the annotation is copied: `desired` itself is never changed.
        metadata = dict(desired["metadata"])
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            APPLIED_HASH_ANNOTATION: apply_hash(desired),
        }
        return {**desired, "metadata": metadata}

    async def apply(
        self, resource: Resource, desired: Mapping[str, Any], current: KubeObject | None
    ) -> Applied:
        body = self.body(resource, desired)
        if current is not None and contains(current, body):
            self._count(resource, "skipped")
            return Applied(current, written=False)
        result = await self.client.apply(resource, body, field_manager=self.field_manager)
        self._count(resource, "sent")
        return Applied(freeze(strip_managed_fields(result)), written=True)

    async def apply_status(
        self, resource: Resource, desired: Mapping[str, Any], current: KubeObject | None
    ) -> Applied:
        _check_identity(resource, desired)
        if "status" not in desired:
            raise ValueError(f"apply_status {resource.kind}: the body has no status")
        if current is not None:
            have, want = current.get("status"), desired["status"]
            if contains(have, want) and contains(want, have):
                self._count(resource, "skipped", status=True)
                return Applied(current, written=False)
        body: dict[str, Any] = thaw(desired)
        result = await self.client.apply(
            resource, body, field_manager=self.field_manager, subresource="status"
        )
        self._count(resource, "sent", status=True)
        return Applied(freeze(strip_managed_fields(result)), written=True)

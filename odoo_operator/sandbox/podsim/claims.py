"""PersistentVolumeClaims as host directories: the sandbox's storage provisioner.

Guarantees:
- every claim gets one directory, `<root>/<namespace>/<name>-<first 8 of its uid>`,
  created when the claim appears and removed (with its content) when the claim is
  deleted; pods that mount the claim share it (see `volumes`). The uid in the name
  keeps a claim deleted and created again under the same name apart from its
  predecessor: it starts empty;
- the claim is reported `Bound`, with its access modes and a capacity equal to its
  storage request; a grown request is reported at once (expansion is instant). No
  PersistentVolume objects exist: a claim's `spec.volumeName` stays empty;
- events are handled in order by one task.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from odoo_operator.runtime import ApiError, KubeClient, KubeObject, ObjectKey
from odoo_operator.runtime.cache import Store
from odoo_operator.runtime.objects import key_of
from odoo_operator.runtime.resources import PERSISTENT_VOLUME_CLAIMS

_log = structlog.get_logger(__name__)


def claim_dir(root: Path, claim: KubeObject) -> Path:
    metadata = claim["metadata"]
    return root / str(metadata["namespace"]) / f"{metadata['name']}-{str(metadata['uid'])[:8]}"


def bound_status(claim: Mapping[str, Any]) -> dict[str, Any]:
    """The status a bound claim of this spec has."""
    spec = claim.get("spec") or {}
    requests = (spec.get("resources") or {}).get("requests") or {}
    status: dict[str, Any] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or ())}
    if "storage" in requests:
        status["capacity"] = {"storage": requests["storage"]}
    return status


def _needs_update(claim: Mapping[str, Any]) -> bool:
    current = claim.get("status") or {}
    wanted = bound_status(claim)
    return any(current.get(key) != value for key, value in wanted.items())


class Claims:
    """Informer handler for PVCs; `run()` does the work in event order."""

    def __init__(self, client: KubeClient, store: Store, root: Path) -> None:
        self.client = client
        self.store = store
        self.root = root
        self._events: asyncio.Queue[tuple[str, KubeObject]] = asyncio.Queue()

    def on_add(self, obj: KubeObject) -> None:
        self._events.put_nowait(("sync", obj))

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        self._events.put_nowait(("sync", new))

    def on_delete(self, obj: KubeObject) -> None:
        self._events.put_nowait(("delete", obj))

    async def run(self) -> None:
        while True:
            action, claim = await self._events.get()
            try:
                if action == "delete":
                    await asyncio.to_thread(shutil.rmtree, claim_dir(self.root, claim), True)
                    _log.info("claim deleted, directory removed", claim=str(key_of(claim)))
                else:
                    await self._sync(key_of(claim))
            except (ApiError, OSError) as error:
                _log.warning("claim not handled", claim=str(key_of(claim)), error=str(error))

    async def _sync(self, key: ObjectKey) -> None:
        claim = self.store.get(key)  # the latest version, not the one of the event
        if claim is None:
            return
        claim_dir(self.root, claim).mkdir(parents=True, exist_ok=True)
        if claim["metadata"].get("deletionTimestamp") or not _needs_update(claim):
            return
        await self.client.merge_patch(
            PERSISTENT_VOLUME_CLAIMS,
            key.name,
            {"metadata": {"uid": claim["metadata"]["uid"]}, "status": bound_status(claim)},
            key.namespace,
            subresource="status",
        )

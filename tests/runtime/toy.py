"""A toy operator on the runtime: every ConfigMap labelled `toy=source` gets a mirror.

The mirror `<name>-mirror` is owned by its source (controller ownerReference) and
carries the source's data plus `mirrored-by: <identity>`. It is written with the
applier, so a converged toy sends no writes. Used in-process by the controller tests and
as a real process (`python -m tests.runtime.toy ...`) by the leader election and
shutdown tests, which need to kill or signal it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import structlog

from odoo_operator.runtime import DONE, Manager, ManagerOptions, ObjectKey, Result, run_manager
from odoo_operator.runtime.objects import KubeObject
from odoo_operator.runtime.resources import CONFIG_MAPS

_log = structlog.get_logger("toy")
SOURCE = "source"


def mirror_of(source: KubeObject, identity: str) -> dict[str, Any]:
    metadata = source["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{metadata['name']}-mirror",
            "namespace": metadata["namespace"],
            "labels": {"toy": "mirror"},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {**(source.get("data") or {}), "mirrored-by": identity},
    }


class MirrorReconciler:
    def __init__(self, manager: Manager, *, delay: float = 0.0, identity: str = "toy") -> None:
        self.manager = manager
        self.delay = delay
        self.identity = identity
        self.config_maps = manager.lister(CONFIG_MAPS)

    async def reconcile(self, key: ObjectKey) -> Result:
        source = self.config_maps.get(key)
        if source is None or (source["metadata"].get("labels") or {}).get("toy") != SOURCE:
            return DONE
        if self.delay:
            _log.info("slow reconcile started", seconds=self.delay)
            await asyncio.sleep(self.delay)
        mirror_name = f"{key.name}-mirror"
        current = self.config_maps.get(ObjectKey(key.namespace, mirror_name))
        applied = await self.manager.applier.apply(
            CONFIG_MAPS, mirror_of(source, self.identity), current
        )
        if applied.written:
            self.manager.recorder.record(source, "Normal", "Mirrored", f"wrote {mirror_name}")
        if self.delay:
            _log.info("slow reconcile finished")
        return DONE


def set_up(manager: Manager, *, delay: float = 0.0) -> MirrorReconciler:
    reconciler = MirrorReconciler(manager, delay=delay, identity=manager.identity)
    manager.controller("mirror", reconciler).for_(CONFIG_MAPS).owns(CONFIG_MAPS)
    return reconciler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--metrics-bind-address", default="0")
    parser.add_argument("--health-probe-bind-address", default="0")
    parser.add_argument("--no-leader-elect", action="store_true")
    parser.add_argument("--reconcile-delay", type=float, default=0.0)
    parser.add_argument("--shutdown-grace", type=float, default=30.0)
    args = parser.parse_args(argv)
    options = ManagerOptions(
        kubeconfig=args.kubeconfig,
        watch_namespace=args.namespace,
        lease_namespace=args.namespace,
        identity=args.identity,
        leader_elect=not args.no_leader_elect,
        metrics_bind_address=args.metrics_bind_address,
        health_probe_bind_address=args.health_probe_bind_address,
        shutdown_grace=args.shutdown_grace,
        log_format="json",
        log_level="info",
    )

    def setup(manager: Manager) -> None:
        set_up(manager, delay=args.reconcile_delay)

    return asyncio.run(run_manager(options, setup))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

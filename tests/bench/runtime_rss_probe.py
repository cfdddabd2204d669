"""Measure the RSS an informer's cache costs: run as its own process, print JSON.

`python -m tests.bench.runtime_rss_probe --kubeconfig K --namespace N` connects, reads
its RSS (imports, client, event loop: the baseline), lists+watches every ConfigMap of
the namespace into an informer, waits for the sync, collects garbage, reads its RSS
again, and prints both with the number of cached objects.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from pathlib import Path

from odoo_operator.runtime.client import connect
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import CONFIG_MAPS, NAMESPACES


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def main(kubeconfig: Path, namespace: str) -> dict[str, int]:
    client = await connect(kubeconfig, RuntimeMetrics(process_metrics=False))
    try:
        await client.list(NAMESPACES)  # warm the connection and TLS
        gc.collect()
        before = rss_bytes()
        informer = Informer(client, CONFIG_MAPS, namespace)
        task = asyncio.create_task(informer.run())
        if not await informer.wait_for_sync(300):
            raise RuntimeError("informer did not sync")
        gc.collect()
        after = rss_bytes()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return {"objects": len(informer.store), "rss_before": before, "rss_after": after}
    finally:
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.kubeconfig, args.namespace))))
    sys.exit(0)

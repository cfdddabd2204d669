"""Write load for the runtime benchmark, from a process of its own.

`python -m tests.bench.runtime_writer --kubeconfig K --namespace N create|patch COUNT`
creates COUNT ConfigMaps `cm-00000...` (~200 B of data each; `create` also creates the
namespace) or patches the first COUNT of them, with 16 concurrent writers, and prints
when it started and finished (epoch seconds) as JSON. A separate process, so the
benchmark's own CPU time is the informer's and the controller's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from odoo_operator.runtime.client import KubeClient, connect
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.resources import CONFIG_MAPS, NAMESPACES

WRITERS = 16
DATA = {f"key-{n}": "x" * 64 for n in range(3)}


async def write(client: KubeClient, namespace: str, mode: str, number: int) -> None:
    name = f"cm-{number:05}"
    if mode == "create":
        body = {"metadata": {"name": name, "namespace": namespace}, "data": DATA}
        await client.create(CONFIG_MAPS, body)
    else:
        patch = {"data": {"key-0": f"changed-{time.monotonic_ns()}"}}
        await client.merge_patch(CONFIG_MAPS, name, patch, namespace)


async def main(kubeconfig: Path, namespace: str, mode: str, count: int) -> dict[str, float]:
    client = await connect(kubeconfig, RuntimeMetrics(process_metrics=False))
    try:
        if mode == "create":
            await client.create(NAMESPACES, {"metadata": {"name": namespace}})
        numbers = iter(range(count))

        async def writer() -> None:
            for number in numbers:
                await write(client, namespace, mode, number)

        started = time.time()
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        return {"started": started, "finished": time.time()}
    finally:
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("mode", choices=["create", "patch"])
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.kubeconfig, args.namespace, args.mode, args.count))))

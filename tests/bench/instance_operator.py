"""Our operator for the instance benchmark: `odoo-operator run` with the defaults, or
without PostgreSQL roles (`--without-postgres`) to show what the role work costs.

    python -m tests.bench.instance_operator --kubeconfig PATH [--without-postgres]
        [--profile FILE] [--metrics-file FILE]

With `--profile FILE`, the run is profiled with cProfile and the statistics are written
to FILE when the operator stops (read them with `python -m pstats FILE`). With
`--metrics-file FILE`, the metrics registry (reconciles per controller, requests per
verb, ...) is written to FILE in Prometheus' text format when the operator stops.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
from pathlib import Path

from prometheus_client import generate_latest

from odoo_operator.controllers.instance import setup as instance
from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.run.flags import defaults
from odoo_operator.runtime.manager import Manager, run_manager


class NoRoles:
    """The baseline: the same reconcile without a PostgreSQL round trip."""

    async def ensure_role(self, cluster: Cluster, role: str, password: str) -> None:
        return None

    async def drop_instance(self, cluster: Cluster, role: str, database: str) -> None:
        return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--without-postgres", action="store_true")
    parser.add_argument("--health", default="0", help="health probe bind address")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile statistics to FILE")
    parser.add_argument("--metrics-file", metavar="FILE", help="write the metrics to FILE")
    args = parser.parse_args()
    options, settings = defaults()
    options = options.model_copy(
        update={
            "kubeconfig": args.kubeconfig,
            "leader_elect": False,
            "metrics_bind_address": "0",
            "health_probe_bind_address": args.health,
            "log_level": "warning",
        }
    )

    managers: list[Manager] = []

    def set_up(manager: Manager) -> None:
        managers.append(manager)
        instance.setup(manager, settings, database=NoRoles() if args.without_postgres else None)

    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler is None:
            return asyncio.run(run_manager(options, set_up))
        return profiler.runcall(asyncio.run, run_manager(options, set_up))
    finally:
        if profiler is not None:
            profiler.dump_stats(args.profile)
        if args.metrics_file and managers:
            Path(args.metrics_file).write_bytes(generate_latest(managers[0].metrics.registry))


if __name__ == "__main__":
    sys.exit(main())

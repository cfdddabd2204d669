"""Our operator for the instance benchmark: `odoo-operator run` with the defaults, or
without PostgreSQL roles (`--without-postgres`) to show what the role work costs.

    python -m tests.bench.instance_operator --kubeconfig PATH [--without-postgres] [--profile FILE]

With `--profile FILE`, the run is profiled with cProfile and the statistics are written
to FILE when the operator stops (read them with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys

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

    def set_up(manager: Manager) -> None:
        instance.setup(manager, settings, database=NoRoles() if args.without_postgres else None)

    if args.profile is None:
        return asyncio.run(run_manager(options, set_up))
    profiler = cProfile.Profile()
    try:
        return profiler.runcall(asyncio.run, run_manager(options, set_up))
    finally:
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    sys.exit(main())

"""OdooInitJob: initialise the instance's database (SPEC §6).

The batch Job runs the instance's image: `odoo --config /etc/odoo/odoo.conf -i <modules>
-d <db> --no-http --stop-after-init`, plus `--without-demo=all` unless `demo` is true.
It may run while the instance is Initializing; it cannot apply to a database that is
initialised already. Deadline: 1 hour.
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.job_resources import OdooInitJobSpec
from odoo_operator.controllers.instance import pods
from odoo_operator.controllers.jobs.batch import Target, batch_job

DEADLINE_SECONDS = 3600


def args(spec: OdooInitJobSpec, database: str) -> list[str]:
    words = ["-i", ",".join(spec.modules), "-d", database, "--no-http", "--stop-after-init"]
    if not spec.demo:
        words.append("--without-demo=all")
    return words


def build(spec: OdooInitJobSpec, target: Target) -> dict[str, Any]:
    instance = target.instance
    container = pods.odoo_container(instance, args(spec, target.database), instance.spec.resources)
    return batch_job(target, DEADLINE_SECONDS, [container])


def why_not(spec: OdooInitJobSpec, db_initialized: bool) -> str | None:
    if db_initialized:
        return "the database is already initialized: an OdooInitJob only runs on a new instance"
    return None

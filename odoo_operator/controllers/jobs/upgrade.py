"""OdooUpgradeJob: update modules of the instance's database (SPEC §6).

The batch Job runs the instance's image: `odoo --config /etc/odoo/odoo.conf -d <db>
--no-http --stop-after-init -u <modules>|all [-i <modulesInstall>]` (`-u all` when
neither list is given; only `-i` when only `modulesInstall` is). It is created when the
instance is Upgrading, which the state table enters once `scheduledTime` has passed
(the instance reconciler requeues exactly then); cron is at 0 meanwhile, web keeps
serving and is restarted on success. It cannot apply to a database never initialised.
Deadline: 2 hours.
"""

from __future__ import annotations

from typing import Any

from odoo_operator.api.job_resources import OdooUpgradeJobSpec
from odoo_operator.controllers.instance import pods
from odoo_operator.controllers.jobs.batch import Target, batch_job

DEADLINE_SECONDS = 7200


def args(spec: OdooUpgradeJobSpec, database: str) -> list[str]:
    words = ["-d", database, "--no-http", "--stop-after-init"]
    if spec.modules:
        words += ["-u", ",".join(spec.modules)]
    elif not spec.modules_install:
        words += ["-u", "all"]
    if spec.modules_install:
        words += ["-i", ",".join(spec.modules_install)]
    return words


def build(spec: OdooUpgradeJobSpec, target: Target) -> dict[str, Any]:
    instance = target.instance
    container = pods.odoo_container(instance, args(spec, target.database), instance.spec.resources)
    return batch_job(target, DEADLINE_SECONDS, [container])


def why_not(spec: OdooUpgradeJobSpec, db_initialized: bool) -> str | None:
    if not db_initialized:
        return "the database was never initialized: run an OdooInitJob or OdooRestoreJob first"
    return None

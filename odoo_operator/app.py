"""The operator process behind `odoo-operator run`, given its checked settings.

It maps the settings onto the runtime's `ManagerOptions` and runs the manager until
SIGTERM/SIGINT: metrics, health and webhook servers, informers, leader election. No
controllers are registered yet; the OdooInstance and job reconcilers plug in through
`_set_up`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import structlog

from odoo_operator.config import OperatorSettings
from odoo_operator.runtime.manager import Manager, run_manager
from odoo_operator.runtime.options import RUN_FLAGS, ManagerOptions
from odoo_operator.webhook.server import add_webhook

log = structlog.get_logger("odoo_operator.app")


def manager_options(settings: OperatorSettings) -> ManagerOptions:
    """The runtime's share of the flags (`RUN_FLAGS`), same names and values."""
    flags = dataclasses.asdict(settings)
    return ManagerOptions(**{name: flags[name] for name in RUN_FLAGS})


async def serve(settings: OperatorSettings) -> int:
    """Run the operator; returns the process exit code (0 after a clean stop)."""

    def _set_up(manager: Manager) -> None:
        log.info("starting", **settings.as_dict())
        add_webhook(manager, settings.webhook_port, Path(settings.webhook_cert_dir))

    return await run_manager(manager_options(settings), _set_up)

"""The operator process behind `odoo-operator run`, given its checked options and settings.

`serve` runs the runtime's manager until SIGTERM/SIGINT (metrics, health and webhook
servers, informers, leader election, controllers), after `controllers.setup` has
registered every controller and `add_webhook` the admission webhook (served on every
replica, leader or not); it returns the exit code. The start-up log line carries every option and
setting (none of them is a secret).
"""

from __future__ import annotations

import structlog

from odoo_operator import controllers
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.runtime.manager import Manager, run_manager
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.webhook.server import add_webhook

log = structlog.get_logger("odoo_operator.run")


async def serve(options: ManagerOptions, settings: OperatorSettings) -> int:
    """Run the operator; returns the process exit code (0 after a clean stop)."""

    def set_up(manager: Manager) -> None:
        log.info("starting", options=options.model_dump(mode="json"), settings=settings.as_log())
        controllers.setup(manager, settings)
        add_webhook(manager, settings.webhook_port, settings.webhook_cert_dir)

    return await run_manager(options, set_up)

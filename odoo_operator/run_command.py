"""`odoo-operator run`: check every flag, set up logging, then run the operator."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from odoo_operator import app
from odoo_operator.config import operator_options, settings_from_flags
from odoo_operator.logs import configure


@click.command()
@operator_options
def run(**flags: Any) -> None:
    """Run the operator: reconcile OdooInstances and their jobs, serve the webhook and metrics.

    Every option can also be set through the environment variable shown next to it; an
    option on the command line wins. Bad values stop the command before it starts.
    """
    settings = settings_from_flags(flags)
    configure(settings.log_format, settings.log_level)
    sys.exit(asyncio.run(app.serve(settings)))

"""`odoo-operator run`: check every flag, then run the operator until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from odoo_operator import app
from odoo_operator.config import operator_options, settings_from_flags


@click.command()
@operator_options
def run(**flags: Any) -> None:
    """Run the operator: reconcile OdooInstances and their jobs, serve the webhook and metrics.

    Every option can also be set through the environment variable shown next to it; an
    option on the command line wins. Bad values stop the command before it starts.
    """
    settings = settings_from_flags(flags)
    sys.exit(asyncio.run(app.serve(settings)))

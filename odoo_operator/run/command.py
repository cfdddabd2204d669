"""The click command `odoo-operator run`: check every flag, then run the operator."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from odoo_operator.run import flags, process


@click.command()
@flags.add_flags
def run(**values: Any) -> None:
    """Run the operator: reconcile OdooInstances and their jobs, serve the webhook and metrics.

    Every option can also be set through the environment variable shown next to it; an
    option on the command line wins. Bad values stop the command before it starts.
    """
    options, settings = flags.parse(values)
    sys.exit(asyncio.run(process.serve(options, settings)))

"""The `odoo-operator` command line: one group, one module per subcommand."""

from __future__ import annotations

import click

from odoo_operator.api.command import crds
from odoo_operator.controllers.instance.diagram import state_machine
from odoo_operator.run_command import run
from odoo_operator.sandbox.command import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="odoo-operator")
def main() -> None:
    """Host many Odoo instances on Kubernetes: deploy, initialise, upgrade, back up, restore.

    Run `odoo-operator COMMAND --help` for the options of each command.
    """


main.add_command(run)
main.add_command(crds)
main.add_command(sandbox)
main.add_command(state_machine)

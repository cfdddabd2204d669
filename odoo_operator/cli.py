"""The `odoo-operator` command line: one group, one module per subcommand."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import click


class _LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs.

    `job backup|restore` runs in every backup/restore Job container: it must not pay for
    the Kubernetes client and the other commands' imports (memory, start-up time). Every
    command is listed here as "name": "module:attribute".
    """

    lazy_commands: ClassVar[dict[str, str]] = {
        "crds": "odoo_operator.api.command:crds",
        "job": "odoo_operator.runner.command:job",
        "run": "odoo_operator.run.command:run",
        "sandbox": "odoo_operator.sandbox.command:sandbox",
        "state-machine": "odoo_operator.controllers.instance.diagram:state_machine",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> Any:
        if name in self.lazy_commands and name not in self.commands:
            module, _, attribute = self.lazy_commands[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="odoo-operator")
def main() -> None:
    """Host many Odoo instances on Kubernetes: deploy, initialise, upgrade, back up, restore.

    Run `odoo-operator COMMAND --help` for the options of each command.
    """

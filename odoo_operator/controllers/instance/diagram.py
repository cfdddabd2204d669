"""`odoo-operator state-machine`: the state table rendered as Markdown + Mermaid.

docs/state-machine.md is this output; a test fails when it is stale, so the diagram
can never disagree with the table the reconciler runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from odoo_operator.controllers.instance.phase import PROGRESSING, Phase
from odoo_operator.controllers.instance.table import TRANSITIONS, Transition

HEADER = """\
# OdooInstance state machine

Generated from `odoo_operator/controllers/instance/table.py` by `odoo-operator
state-machine` (or `python -m odoo_operator.docgen`); do not edit by hand.

Rows are evaluated in order and the first whose phase and guard match wins; one
transition per reconcile, then an immediate requeue. No match: the phase stays.
R = `spec.replicas`, ready = ready web pods, "present" = a non-terminal job resource
for the instance exists. `Progressing=True` in: {progressing}. `Ready=True` in Running.
"""


def _sources(transition: Transition) -> str:
    if transition.sources == frozenset(Phase) - {Phase.ERROR}:
        return "any but Error"
    return ", ".join(p.value for p in Phase if p in transition.sources)


def _label(transition: Transition) -> str:
    label = transition.guard.label
    if transition.actions:
        label += " / " + ", ".join(a.value for a in transition.actions)
    return label


def render_markdown() -> str:
    progressing = ", ".join(p.value for p in Phase if p in PROGRESSING)
    lines = [HEADER.format(progressing=progressing), "```mermaid", "stateDiagram-v2"]
    lines.append(f"    [*] --> {Phase.PROVISIONING.value}")
    for transition in TRANSITIONS:
        for source in (p for p in Phase if p in transition.sources):
            lines.append(f"    {source.value} --> {transition.target.value} : {_label(transition)}")
    lines += ["```", "", "| # | from | to | guard | actions |", "|---|---|---|---|---|"]
    for number, transition in enumerate(TRANSITIONS, start=1):
        actions = ", ".join(a.value for a in transition.actions) or "—"
        lines.append(
            f"| {number} | {_sources(transition)} | {transition.target.value} "
            f"| {transition.guard.label} | {actions} |"
        )
    return "\n".join(lines) + "\n"


@click.command("state-machine")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Markdown to this file instead of stdout (docs/state-machine.md).",
)
def state_machine(output: Path | None) -> None:
    """Print the OdooInstance state table as a Mermaid diagram and a table (Markdown)."""
    text = render_markdown()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)

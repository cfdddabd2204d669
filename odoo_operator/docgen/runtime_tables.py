"""The reference tables of docs/runtime.md, rendered from the code's own data.

`render` rewrites the tables between the `<!-- generated: NAME -->` and `<!-- end: NAME
-->` markers; `python -m odoo_operator.docgen` applies it, and a test fails when the file
differs from what this renders, so the docs cannot drift from the code.

The options table shows the runtime's library defaults (what `ManagerOptions()` takes for
a field not given) and, beside them, the `odoo-operator run` flag that sets the field:
`run` passes every such field explicitly, with the flag defaults of docs/reference.md.
"""

from __future__ import annotations

import re

from odoo_operator.run.flags import FLAGS
from odoo_operator.runtime.metrics import METRICS
from odoo_operator.runtime.options import ManagerOptions


def _default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def options_table() -> str:
    flags = {flag.option: flag for flag in FLAGS if flag.option is not None}
    rows = ["| option | library default | meaning | set by `run` from |", "|---|---|---|---|"]
    for name, field in ManagerOptions.model_fields.items():
        flag = flags.get(name)
        source = " / ".join(f"`{part}`" for part in flag.name.split("/")) if flag else ""
        description = field.description or ""
        rows.append(f"| `{name}` | {_default(field.default)} | {description} | {source} |")
    return "\n".join(rows)


def metrics_table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |")
    return "\n".join(rows)


TABLES = {"options": options_table, "metrics": metrics_table}


def render(text: str) -> str:
    """`text` with every generated table replaced by its current rendering."""
    for name, table in TABLES.items():
        pattern = re.compile(
            rf"(<!-- generated: {name} -->\n).*?(\n<!-- end: {name} -->)", flags=re.DOTALL
        )
        match = pattern.search(text)
        if match is None:
            raise ValueError(f"no <!-- generated: {name} --> ... <!-- end: {name} --> markers")
        text = text[: match.end(1)] + table() + text[match.start(2) :]
    return text

"""The operator's RBAC rules (`run.permissions`) written into the chart and docs/install.md.

The chart's `clusterrole.yaml` and `leader-election-role.yaml` are hand-written templates
whose rules lie between `# generated: rules` and `# end: rules`; docs/install.md has its
tables between `<!-- generated: NAME -->` and `<!-- end: NAME -->`. `render_*` replace
what lies between the markers; a test fails when a committed file differs.
"""

from __future__ import annotations

import re

from odoo_operator.run.permissions import CLUSTER_RULES, LEASE_RULES, Rule, rules_yaml, table


def _between(text: str, start: str, end: str, content: str) -> str:
    pattern = re.compile(
        rf"({re.escape(start)}\n)(?:.*?\n)??([ ]*{re.escape(end)})", flags=re.DOTALL
    )
    match = pattern.search(text)
    if match is None:
        raise ValueError(f"no {start!r} ... {end!r} markers")
    return text[: match.end(1)] + content + "\n" + text[match.start(2) :]


def _role(text: str, rules: tuple[Rule, ...]) -> str:
    return _between(text, "  # generated: rules", "# end: rules", rules_yaml(rules))


def render_cluster_role(text: str) -> str:
    return _role(text, CLUSTER_RULES)


def render_lease_role(text: str) -> str:
    return _role(text, LEASE_RULES)


def render_install_doc(text: str) -> str:
    for name, rules in (("cluster-permissions", CLUSTER_RULES), ("lease-permissions", LEASE_RULES)):
        text = _between(text, f"<!-- generated: {name} -->", f"<!-- end: {name} -->", table(rules))
    return text

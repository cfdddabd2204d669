"""Committed generated files (chart CRDs, vendored definitions, docs/reference.md) are current."""

from __future__ import annotations

import pytest

from odoo_operator.docgen.files import CHART_CRDS, ROOT, generators


@pytest.mark.parametrize("relative", sorted(generators()))
def test_committed_file_matches_its_generator(relative: str) -> None:
    path = ROOT / relative
    assert path.exists(), f"{relative} is missing: run python -m odoo_operator.docgen"
    assert path.read_text() == generators()[relative](), (
        f"{relative} is stale: run python -m odoo_operator.docgen"
    )


def test_the_chart_ships_exactly_the_generated_crds() -> None:
    shipped = {p.name for p in (ROOT / CHART_CRDS).iterdir()}
    expected = {r.rsplit("/", 1)[1] for r in generators() if r.startswith(CHART_CRDS)}
    assert shipped == expected

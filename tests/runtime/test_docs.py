"""docs/runtime.md carries the options and metrics tables exactly as the code renders them."""

from __future__ import annotations

from pathlib import Path

from odoo_operator.runtime.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime.md"


def test_generated_tables_are_current() -> None:
    text = DOC.read_text()
    assert render(text) == text, (
        "docs/runtime.md is out of date: run "
        "`python -m odoo_operator.runtime.reference docs/runtime.md`"
    )

"""The generated files of the repository, each with the function giving its exact content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odoo_operator.api import crd, kubernetes_definitions
from odoo_operator.controllers.instance import diagram
from odoo_operator.docgen import permissions, reference, runtime_tables

ROOT = Path(__file__).resolve().parent.parent.parent
CHART_CRDS = "deploy/odoo-operator/crds"
CHART_TEMPLATES = "deploy/odoo-operator/templates"


def _definitions() -> str:
    return kubernetes_definitions.render(kubernetes_definitions.source())


def _read(relative: str) -> str:
    return (ROOT / relative).read_text()


def generators() -> dict[str, Callable[[], str]]:
    """Path relative to the repository root -> function giving its exact content."""
    files: dict[str, Callable[[], str]] = {
        f"odoo_operator/api/{kubernetes_definitions.FILE_NAME}": _definitions,
        "docs/reference.md": reference.render,
        "docs/state-machine.md": diagram.render_markdown,
        # hand-written, with generated tables between markers:
        "docs/runtime.md": lambda: runtime_tables.render((ROOT / "docs/runtime.md").read_text()),
        "docs/install.md": lambda: permissions.render_install_doc(_read("docs/install.md")),
        f"{CHART_TEMPLATES}/clusterrole.yaml": lambda: permissions.render_cluster_role(
            _read(f"{CHART_TEMPLATES}/clusterrole.yaml")
        ),
        f"{CHART_TEMPLATES}/leader-election-role.yaml": lambda: permissions.render_lease_role(
            _read(f"{CHART_TEMPLATES}/leader-election-role.yaml")
        ),
    }
    for name, text in crd.rendered_files().items():
        files[f"{CHART_CRDS}/{name}"] = lambda text=text: text  # type: ignore[misc]
    return files


def write_all() -> None:
    """Rewrite every generated file under `ROOT`, saying which."""
    for relative, produce in generators().items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(produce())
        print(f"wrote {relative}")

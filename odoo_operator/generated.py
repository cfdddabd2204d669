"""Every file the repository commits that is generated from code, and how to regenerate them.

`python -m odoo_operator.generated` (from a checkout) rewrites them all; a test compares each
committed file with its generator, so a change to the models, the CLI or the vendored
Kubernetes definitions that is not regenerated fails the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odoo_operator import reference
from odoo_operator.api import crd, kubernetes_definitions
from odoo_operator.controllers.instance import diagram
from odoo_operator.runtime import reference as runtime_reference

ROOT = Path(__file__).resolve().parent.parent
CHART_CRDS = "deploy/odoo-operator/crds"


def _definitions() -> str:
    return kubernetes_definitions.render(kubernetes_definitions.source())


def generators() -> dict[str, Callable[[], str]]:
    """Path relative to the repository root -> function giving its exact content."""
    files: dict[str, Callable[[], str]] = {
        f"odoo_operator/api/{kubernetes_definitions.FILE_NAME}": _definitions,
        "docs/reference.md": reference.render,
        "docs/state-machine.md": diagram.render_markdown,
        # hand-written, with generated tables between markers:
        "docs/runtime.md": lambda: runtime_reference.render((ROOT / "docs/runtime.md").read_text()),
    }
    for name, text in crd.rendered_files().items():
        files[f"{CHART_CRDS}/{name}"] = lambda text=text: text  # type: ignore[misc]
    return files


def main() -> None:
    for relative, produce in generators().items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(produce())
        print(f"wrote {relative}")


if __name__ == "__main__":
    main()

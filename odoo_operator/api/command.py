"""`odoo-operator crds`: print or write the CustomResourceDefinitions."""

from __future__ import annotations

from pathlib import Path

import click

from odoo_operator.api.crd import rendered_files


@click.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per CRD (<group>_<plural>.yaml) here instead of printing them.",
)
def crds(output_dir: Path | None) -> None:
    """Print the CustomResourceDefinitions of the five kinds, generated from the models.

    Without --output-dir they go to stdout as one YAML stream, ready for
    `kubectl apply --server-side -f -`. The Helm chart ships exactly this output.
    """
    files = rendered_files()
    if output_dir is None:
        click.echo("---\n".join(files.values()), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output_dir / name).write_text(text)
        click.echo(f"wrote {output_dir / name}", err=True)

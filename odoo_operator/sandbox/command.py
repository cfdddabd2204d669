"""`odoo-operator sandbox`: run the whole system locally until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from pathlib import Path

import click

from odoo_operator.sandbox.assets import AssetsMissing, find_assets
from odoo_operator.sandbox.kubernetes_build import BuildError
from odoo_operator.sandbox.process import ProcessError
from odoo_operator.sandbox.runner import OPTIONAL_PARTS, SANDBOX_OPERATOR_IMAGE, Sandbox

READY_LINE = "sandbox ready"


async def _serve(sandbox: Sandbox) -> None:
    """Seed the cluster, say `sandbox ready`, wait for SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await sandbox.seed()
    click.echo(READY_LINE)
    sys.stdout.flush()
    await stopping.wait()


@click.command()
@click.option(
    "--kubeconfig-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sandbox.kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig; sandbox.json is written next to it.",
)
@click.option(
    "--without",
    type=click.Choice(OPTIONAL_PARTS),
    multiple=True,
    help="Leave a part out (repeatable).",
)
@click.option(
    "--operator-image",
    default=SANDBOX_OPERATOR_IMAGE,
    show_default=True,
    help="Containers of this image run for real on the pod simulator; others are simulated Odoo.",
)
@click.option(
    "--prepare-only",
    is_flag=True,
    help="Only make sure the envtest assets (with kube-controller-manager) exist, print "
    "their directory and exit.",
)
@click.option(
    "--build-assets",
    is_flag=True,
    help="Allow building kube-apiserver and kube-controller-manager from Debian sources if "
    "they are not found.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for data and logs (default: a new temporary directory).",
)
def sandbox(
    *,
    kubeconfig_out: Path,
    without: tuple[str, ...],
    operator_image: str,
    prepare_only: bool,
    build_assets: bool,
    run_dir: Path | None,
) -> None:
    """Run a local Kubernetes (API server, controller manager, pod simulator), PostgreSQL
    and S3 endpoint, no cluster needed.

    Prints exactly one line, `sandbox ready`, once the kubeconfig works; runs until
    SIGINT or SIGTERM, then stops every process it started. Logs and progress go to
    stderr.
    """
    try:
        if prepare_only:
            assets = find_assets(build=build_assets, controller_manager=True)
            click.echo(str(assets.directory))
            return
        directory = run_dir or Path(tempfile.mkdtemp(prefix="odoo-operator-sandbox-"))
        runner = Sandbox(
            run_dir=directory,
            kubeconfig_out=kubeconfig_out,
            without=frozenset(without),
            build_assets=build_assets,
            operator_image=operator_image,
        )
        # SIGTERM during start-up unwinds like Ctrl-C, so `finally` stops what started.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            # From the main thread: each child's parent-death signal is tied to the thread
            # that started it, and this one lives as long as the process.
            runner.start_processes()
            asyncio.run(_serve(runner))
        finally:
            runner.stop()
    except (AssetsMissing, BuildError, ProcessError) as error:
        raise click.ClickException(str(error)) from error

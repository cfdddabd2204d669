"""`odoo-operator sandbox`: run the whole system locally until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path

import click
from kubernetes_asyncio.client.rest import ApiException

from odoo_operator.sandbox.assets import AssetsMissing, find_assets, with_etcd
from odoo_operator.sandbox.install import InstallError, error_text
from odoo_operator.sandbox.kubernetes_build import BuildError
from odoo_operator.sandbox.process import ProcessError
from odoo_operator.sandbox.runner import OPTIONAL_PARTS, SANDBOX_OPERATOR_IMAGE, Sandbox

READY_LINE = "sandbox ready"


class StopRequest:
    """The SIGINT/SIGTERM handler: remembers the request and raises KeyboardInterrupt.

    Python runs a handler wherever the main thread is, and an exception raised inside a
    finalizer or a fork hook is printed ("Exception ignored in ...") and dropped: seen
    when the signal came while a child was being started (logging's after-fork hook).
    `received` is the request that cannot be dropped: the sandbox checks it between
    start-up steps (`Sandbox.stop_requested`) and once start-up returns.
    """

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: object) -> None:
        self.received = True
        raise KeyboardInterrupt


def run_until_signal(sandbox: Sandbox) -> None:
    """Start, say `sandbox ready`, wait for SIGINT/SIGTERM; always stop what started.

    Both signals raise KeyboardInterrupt (`StopRequest`), during start-up too, so
    `finally` stops the parts that had started; while stopping, further signals are
    ignored (every part has its own time limit, and the children die with this process
    anyway). SIGINT is set here too: a sandbox started in the background by a shell or
    script inherits SIGINT ignored, and Python then leaves it ignored, so `kill -INT`
    would do nothing.
    """
    stop = StopRequest()
    sandbox.stop_requested = lambda: stop.received
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    ready = False
    try:
        # From the main thread: each child's parent-death signal is tied to the thread
        # that started it, and this one lives as long as the process.
        sandbox.start()
        if stop.received:  # its KeyboardInterrupt was dropped on the way
            raise KeyboardInterrupt
        ready = True  # before the line: a signal right after it must end in a clean stop
        click.echo(READY_LINE)
        sys.stdout.flush()
        while True:
            signal.pause()
    except KeyboardInterrupt:
        if not ready:
            raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sandbox.stop()


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
    help="Only make sure the envtest assets (kube-apiserver, kube-controller-manager, etcd) "
    "exist, print their directory (usable as KUBEBUILDER_ASSETS) and exit.",
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
    """Run the whole system locally, no cluster needed: a Kubernetes API server, controller
    manager and pod simulator, PostgreSQL, an S3 endpoint, and the operator with its
    webhook.

    Prints exactly one line, `sandbox ready`, once the kubeconfig works, the CRDs are
    established, the operator is ready and leads, and its webhook answers through the API
    server; runs until SIGINT or SIGTERM, then stops every process it started. Logs and
    progress go to stderr.
    """
    try:
        if prepare_only:
            assets = with_etcd(find_assets(build=build_assets, controller_manager=True))
            click.echo(str(assets.directory))
            return
        directory = run_dir or Path(tempfile.mkdtemp(prefix="odoo-operator-sandbox-"))
        run_until_signal(
            Sandbox(
                run_dir=directory,
                kubeconfig_out=kubeconfig_out,
                without=frozenset(without),
                build_assets=build_assets,
                operator_image=operator_image,
            )
        )
    except (AssetsMissing, BuildError, ProcessError, InstallError) as error:
        raise click.ClickException(str(error)) from error
    except ApiException as error:
        raise click.ClickException(
            f"the API server refused a set-up step: {error.status} {error.reason}: "
            f"{error_text(error)}"
        ) from error

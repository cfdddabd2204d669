"""Containers as local processes: what runs for each image, started, logged, stopped.

Guarantees:
- a container whose image is the operator image runs its own command and args for
  real; `odoo-operator` (the image's entrypoint, also when `command` is empty) becomes
  this installation's `python -m odoo_operator`;
- any other image runs the simulated Odoo (`podsim.odoo`) with the container's command
  and args; its log says it is simulated;
- the process environment is the pod's (see `env`) over a minimal host base (`PATH`,
  `LANG`, `LC_ALL`, `TZ`), with `HOME` and the working directory in the container's
  own directory and `HOSTNAME` the pod's name: nothing else of the host's environment
  (no credentials of the user who started the sandbox) leaks in;
- each container is a process group of its own, with the parent-death signal set, so
  stopping it (SIGTERM, then SIGKILL after the grace period) reaches every process it
  started, and a crashed node agent takes its containers along;
- stdout and stderr are read as the process writes and appended to its `ContainerLog`;
- exit codes are reported as a container runtime does: 128 + N when killed by signal N.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from odoo_operator.sandbox.podsim.logs import ContainerLog
from odoo_operator.sandbox.podsim.volumes import Mount, translate, translate_argument
from odoo_operator.sandbox.process import die_with_parent

OPERATOR_ENTRYPOINT = "odoo-operator"
ODOO_DEFAULT_COMMAND = ("odoo",)  # the official image's CMD
HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ")
_LINE_LIMIT = 1 << 20


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container's process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _translated(words: Sequence[str], mounts: Sequence[Mount]) -> list[str]:
    return [translate_argument(word, mounts) for word in words]


def operator_argv(
    command: Sequence[str], args: Sequence[str], mounts: Sequence[Mount]
) -> list[str]:
    """The real command of an operator-image container, on this installation."""
    words = [*(command or (OPERATOR_ENTRYPOINT,)), *args]
    if Path(words[0]).name == OPERATOR_ENTRYPOINT:
        return [sys.executable, "-m", "odoo_operator", *_translated(words[1:], mounts)]
    return _translated(words, mounts)


def simulated_argv(
    image: str, command: Sequence[str], args: Sequence[str], mounts: Sequence[Mount]
) -> list[str]:
    """The simulated Odoo, told the container's words, image and mounts."""
    words = [*command, *args] or list(ODOO_DEFAULT_COMMAND)
    table = {mount.container_path: str(mount.host_path) for mount in mounts}
    return [
        sys.executable,
        "-m",
        "odoo_operator.sandbox.podsim.odoo",
        "--image",
        image,
        "--mounts",
        json.dumps(table),
        "--",
        *_translated(words, mounts),
    ]


def launch_for(
    *,
    pod_name: str,
    container: Mapping[str, object],
    variables: Mapping[str, str],
    command: Sequence[str],
    args: Sequence[str],
    mounts: Sequence[Mount],
    operator_image: str,
    home: Path,
) -> Launch:
    image = str(container.get("image") or "")
    if image == operator_image:
        argv = operator_argv(command, args, mounts)
    else:
        argv = simulated_argv(image, command, args, mounts)
    env = {name: os.environ[name] for name in HOST_VARIABLES if name in os.environ}
    env |= {"HOME": str(home), "HOSTNAME": pod_name}
    env |= {name: translate(value, mounts) for name, value in variables.items()}
    working_dir = str(container.get("workingDir") or "")
    cwd = Path(translate(working_dir, mounts)) if working_dir else home
    return Launch(argv, env, cwd)


class ContainerProcess:
    """One run of one container."""

    def __init__(self, launch: Launch, log: ContainerLog) -> None:
        self.launch = launch
        self.log = log
        self._process: asyncio.subprocess.Process | None = None
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Start the process; `OSError` if it cannot be (e.g. no such executable)."""
        self.launch.cwd.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            *self.launch.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.launch.env,
            cwd=self.launch.cwd,
            start_new_session=True,
            preexec_fn=die_with_parent,
            limit=_LINE_LIMIT,
        )
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(self._process.stdout, "stdout")),
            asyncio.create_task(self._pump(self._process.stderr, "stderr")),
        ]

    async def _pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                if end.partial:
                    self.log.write(stream, end.partial)
                return
            except asyncio.LimitOverrunError as overrun:
                self.log.write(stream, await reader.readexactly(overrun.consumed), partial=True)
                continue
            self.log.write(stream, line)

    async def wait(self) -> int:
        """Wait for the end of the run; every process of its group is gone afterwards."""
        assert self._process is not None
        returncode = await self._process.wait()
        self._kill_group(signal.SIGKILL)  # what is left of the container goes with it
        if self._pumps:
            await asyncio.wait(self._pumps)  # unlike gather, a cancelled wait leaves them be
        self.log.close()
        return 128 - returncode if returncode < 0 else returncode

    def _kill_group(self, signum: signal.Signals) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signum)

    async def stop(self, grace: float) -> None:
        """SIGTERM to the whole group, SIGKILL after `grace` seconds; `wait()` reports."""
        if self._process is None or self._process.returncode is not None:
            return
        self._kill_group(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await self._process.wait()
        except TimeoutError:
            self._kill_group(signal.SIGKILL)

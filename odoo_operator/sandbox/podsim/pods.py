"""One pod on the node: bound, run, reported, stopped and finally deleted, like a kubelet.

A `PodWorker` owns one pod (one uid) from the moment the node sees it until it is gone.
Guarantees:
- an unscheduled pod (`default-scheduler`) is bound to this node through `pods/binding`;
  node selectors, affinity and taints are not considered (there is one node);
- once bound, its volumes are prepared, init containers run one after the other (each
  must exit 0; a failure fails the pod under `restartPolicy: Never`, else it is retried),
  then every container starts; `Always`/`OnFailure` restart an exited container after
  the kubelet's back-off (10 s doubling, at most 5 min);
- a container that cannot be configured yet (a missing Secret, ConfigMap, key or claim)
  waits with `CreateContainerConfigError` and is retried when Secrets, ConfigMaps or
  claims of its namespace change, never on a timer;
- a running container is ready after `max(startupProbe, readinessProbe).initialDelaySeconds`
  (at once without probes; never with `SANDBOX_UNREADY=true` in its environment).
  Probes themselves are not executed;
- the status is written (merge patch of `status`, guarded by the pod's uid) after each
  change, and only when it differs from what was last written;
- a pod marked for deletion has its containers stopped (SIGTERM, SIGKILL after the
  deletion grace period), its final status written, and is then deleted with grace 0
  (guarded by its uid); its directory (volumes and logs) is removed when it is gone. A
  pod removed without us (`--force --grace-period=0`) gets 2 s;
- a failed API call is retried after a back-off, as the kubelet retries a pod's sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from odoo_operator.runtime import ApiError, KubeClient, KubeObject
from odoo_operator.runtime.backoff import Backoff
from odoo_operator.runtime.logs import describe_error
from odoo_operator.runtime.resources import PODS
from odoo_operator.sandbox.podsim import env, status
from odoo_operator.sandbox.podsim.containers import ContainerProcess, Launch, launch_for
from odoo_operator.sandbox.podsim.logs import ContainerLog
from odoo_operator.sandbox.podsim.status import ContainerState, Termination
from odoo_operator.sandbox.podsim.volumes import ClaimSource, PodVolumes

_log = structlog.get_logger(__name__)

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE = 30
FORCED_GRACE = 2.0  # for containers of a pod that vanished from the API
RETRY_INITIAL, RETRY_CAP = 0.5, 30.0
BACKOFF_INITIAL = 10.0
BACKOFF_CAP = 300.0
UNREADY_VARIABLE = "SANDBOX_UNREADY"
START_FAILED = 128  # what a runtime reports when the process could not be started


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def readiness_delay(container: Mapping[str, Any]) -> float:
    """Seconds from start to ready: the larger initial delay of the startup/readiness probe."""
    delays = [
        float((container.get(probe) or {}).get("initialDelaySeconds") or 0)
        for probe in ("startupProbe", "readinessProbe")
    ]
    return max(delays)


@dataclass(frozen=True)
class NodeContext:
    """What every pod worker on the node shares."""

    client: KubeClient
    node_name: str
    operator_image: str
    pods_root: Path
    claims_root: Path
    source: ClaimSource


@dataclass
class Container:
    spec: Mapping[str, Any]
    state: ContainerState
    logs: dict[int, ContainerLog] = field(default_factory=dict)
    process: ContainerProcess | None = None
    ready_timer: asyncio.TimerHandle | None = None

    def current_log(self) -> ContainerLog | None:
        """The log `kubectl logs` shows: this run's, or the last one's while restarting."""
        run = self.state.restart_count
        return self.logs.get(run) or self.logs.get(run - 1)


class PodWorker:
    def __init__(self, node: NodeContext, pod: KubeObject) -> None:
        self.node = node
        self.uid = str(pod["metadata"]["uid"])
        self.namespace = str(pod["metadata"]["namespace"])
        self.name = str(pod["metadata"]["name"])
        self._pod: KubeObject | None = pod
        self._changed = asyncio.Event()
        self._config_changed = asyncio.Event()
        self._lifecycle: asyncio.Task[None] | None = None
        self._deleting = False
        self._written: dict[str, Any] | None = None
        self._start_time = _now()
        self.directory = node.pods_root / self.uid
        self.volumes = PodVolumes(self.directory, node.claims_root)
        spec = pod.get("spec") or {}
        self.init = [self._container(c) for c in spec.get("initContainers") or ()]
        self.main = [self._container(c) for c in spec.get("containers") or ()]
        if self.init:
            self._waiting(self.main, "PodInitializing", "")
        self._changed.set()

    @staticmethod
    def _container(spec: Mapping[str, Any]) -> Container:
        return Container(spec, ContainerState(str(spec["name"]), str(spec.get("image") or "")))

    def container(self, name: str) -> Container | None:
        return next((c for c in [*self.init, *self.main] if c.state.name == name), None)

    # -- events from the node agent ---------------------------------------------------

    def update(self, pod: KubeObject | None) -> None:
        """The latest version of the pod (None: it is gone from the API)."""
        self._pod = pod
        self._changed.set()

    def config_changed(self) -> None:
        self._config_changed.set()

    # -- the worker loop ------------------------------------------------------------

    async def run(self) -> None:
        """Until the pod is gone (or is another node's); then nothing of it is left."""
        log = _log.bind(pod=f"{self.namespace}/{self.name}")
        backoff = Backoff(RETRY_INITIAL, RETRY_CAP, reset_after=60.0)
        gone = False
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                pod = self._pod
                if pod is None:
                    gone = True
                    return
                try:
                    if not await self._sync(pod, log):
                        return
                except (ApiError, aiohttp.ClientError, TimeoutError) as error:
                    delay = backoff.next_delay()
                    reason = describe_error(error)
                    log.warning("pod sync failed; retrying", error=reason, delay=delay)
                    await asyncio.sleep(delay)
                    self._changed.set()
        finally:
            await self._stop_containers(self._grace(self._pod) if gone else 5.0)
            if gone:
                await asyncio.to_thread(shutil.rmtree, self.directory, True)
            else:
                await asyncio.to_thread(shutil.rmtree, self.volumes.root, True)

    async def _sync(self, pod: KubeObject, log: Any) -> bool:
        """One step towards what the pod asks for; False when it is not this node's."""
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            await self._bind(pod, log)
        elif node_name != self.node.node_name:
            return False
        elif pod["metadata"].get("deletionTimestamp"):
            await self._delete(pod, log)
        elif self._lifecycle is None:
            if (pod.get("status") or {}).get("phase") in (status.SUCCEEDED, status.FAILED):
                return True  # finished before this node agent started: never run again
            log.info("starting pod")
            self._start_time = _now()
            self._lifecycle = asyncio.create_task(self._run_pod(pod))
            self._lifecycle.add_done_callback(self._lifecycle_ended)
            await self._report(pod)
        else:
            await self._report(pod)
        return True

    def _lifecycle_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            _log.error(
                "pod lifecycle failed",
                pod=f"{self.namespace}/{self.name}",
                exc_info=task.exception(),
            )

    def _grace(self, pod: KubeObject | None) -> float:
        if pod is None:
            return FORCED_GRACE
        metadata = pod.get("metadata") or {}
        grace = metadata.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        return float(grace)

    async def _bind(self, pod: KubeObject, log: Any) -> None:
        scheduler = (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER
        if scheduler != DEFAULT_SCHEDULER:
            return
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node.node_name},
        }
        path = PODS.path(self.namespace, self.name, "binding")
        try:
            await self.node.client.request("POST", path, body=body)
        except ApiError as error:
            if error.status not in (404, 409):
                raise
            return
        log.info("pod bound", node=self.node.node_name)

    async def _delete(self, pod: KubeObject, log: Any) -> None:
        """Stop the containers (once), write the final status, delete for good (retried)."""
        if not self._deleting:
            self._deleting = True
            grace = self._grace(pod)
            log.info("pod deleted; stopping its containers", grace=grace)
            await self._stop_containers(grace)
        if self._lifecycle is not None:
            await self._report(pod)
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        try:
            await self.node.client.request(
                "DELETE", PODS.path(self.namespace, self.name), body=options
            )
        except ApiError as error:
            if error.status not in (404, 409):
                raise

    async def _stop_containers(self, grace: float) -> None:
        if self._lifecycle is not None:
            self._lifecycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle
        running = [c for c in [*self.init, *self.main] if c.process is not None]
        await asyncio.gather(*(self._finish(c, grace) for c in running))

    async def _finish(self, container: Container, grace: float) -> None:
        """Stop a container's process (if still running) and record how it ended."""
        process = container.process
        assert process is not None
        await process.stop(grace)
        code = await process.wait()
        self._terminated(container, code)

    # -- running the pod --------------------------------------------------------------

    async def _run_pod(self, pod: KubeObject) -> None:
        await self._prepare_volumes(pod)
        restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        for container in self.init:
            while True:
                code = await self._run_once(pod, container)
                if code == 0:
                    break
                if restart_policy == "Never":
                    return
                await self._back_off(container)
        await asyncio.gather(*(self._supervise(pod, c, restart_policy) for c in self.main))

    async def _prepare_volumes(self, pod: KubeObject) -> None:
        while True:
            self._config_changed.clear()
            try:
                self.volumes.prepare(pod, self.node.source)
                return
            except env.ConfigError as error:
                self._waiting(self.main + self.init, "ContainerCreating", str(error))
            await self._config_changed.wait()

    async def _supervise(self, pod: KubeObject, container: Container, policy: str) -> None:
        while True:
            code = await self._run_once(pod, container)
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            await self._back_off(container)

    async def _back_off(self, container: Container) -> None:
        state = container.state
        delay = min(BACKOFF_INITIAL * 2**state.restart_count, BACKOFF_CAP)
        state.last_termination = state.terminated
        state.terminated = None
        state.started_at = None
        state.restart_count += 1
        message = (
            f"back-off {delay:.0f}s restarting failed container={state.name} "
            f"pod={self.name}_{self.namespace}({self.uid})"
        )
        self._waiting([container], "CrashLoopBackOff", message)
        await asyncio.sleep(delay)

    def _waiting(self, containers: Sequence[Container], reason: str, message: str) -> None:
        for container in containers:
            container.state.waiting_reason = reason
            container.state.waiting_message = message
        self._changed.set()

    async def _run_once(self, pod: KubeObject, container: Container) -> int:
        """One run of a container, from configuration to exit; returns its exit code."""
        launch, variables = await self._configure(pod, container)
        state = container.state
        run_log = ContainerLog(self.directory / "logs" / state.name / f"{state.restart_count}.log")
        container.logs[state.restart_count] = run_log
        process = ContainerProcess(launch, run_log)
        try:
            await process.start()
        except OSError as error:
            run_log.note(f"pod simulator: cannot start {launch.argv[0]!r}: {error.strerror}")
            run_log.close()
            now = _now()
            state.terminated = Termination(START_FAILED, now, now, f"StartError: {error}")
            self._changed.set()
            return START_FAILED
        container.process = process
        state.started_at = _now()
        state.waiting_reason, state.waiting_message = "", ""
        if container not in self.init and variables.get(UNREADY_VARIABLE) != "true":
            delay = readiness_delay(container.spec)
            loop = asyncio.get_running_loop()
            container.ready_timer = loop.call_later(delay, self._ready, container)
        self._changed.set()
        code = await process.wait()
        self._terminated(container, code)
        return code

    async def _configure(
        self, pod: KubeObject, container: Container
    ) -> tuple[Launch, dict[str, str]]:
        """Resolve env, mounts and argv; wait with CreateContainerConfigError until possible."""
        spec = container.spec
        while True:
            self._config_changed.clear()
            try:
                variables = env.resolve(pod, spec, self.node.source)
                mounts = self.volumes.mounts(spec)
                launch = launch_for(
                    pod_name=self.name,
                    container=spec,
                    variables=variables,
                    command=env.expand_all(spec.get("command") or (), variables),
                    args=env.expand_all(spec.get("args") or (), variables),
                    mounts=mounts,
                    operator_image=self.node.operator_image,
                    home=self.directory / "containers" / container.state.name,
                )
                return launch, variables
            except env.ConfigError as error:
                self._waiting([container], "CreateContainerConfigError", str(error))
            await self._config_changed.wait()

    def _ready(self, container: Container) -> None:
        if container.state.running:
            container.state.ready = True
            self._changed.set()

    def _terminated(self, container: Container, code: int) -> None:
        state = container.state
        if container.process is None or state.started_at is None:
            return
        if container.ready_timer is not None:
            container.ready_timer.cancel()
        state.terminated = Termination(code, state.started_at, _now())
        state.ready = False
        container.process = None
        self._changed.set()

    # -- reporting ------------------------------------------------------------------

    async def _report(self, pod: KubeObject) -> None:
        spec = pod.get("spec") or {}
        wanted = status.pod_status(
            [c.state for c in self.init],
            [c.state for c in self.main],
            restart_policy=spec.get("restartPolicy") or "Always",
            start_time=self._start_time,
            previous=pod.get("status") or {},
            now=_now(),
        )
        if wanted == self._written:
            return
        try:
            await self.node.client.merge_patch(
                PODS,
                self.name,
                {"metadata": {"uid": self.uid}, "status": wanted},
                self.namespace,
                subresource="status",
            )
        except ApiError as error:
            if error.status not in (404, 409, 422):  # gone, or replaced by a namesake
                raise
            return
        self._written = wanted

"""A pod's status as a kubelet reports it, derived from its containers' states.

Pure functions over `ContainerState`s, so the rules can be read and tested alone. They
follow kubelet 1.20 (`getPhase`, `GeneratePodReadyCondition` and friends):

- phase: a failed init container under `restartPolicy: Never` fails the pod; any
  unfinished init container or any main container not yet started keeps it Pending;
  a running container makes it Running; when all have stopped, `Never` gives Failed if
  any exited non-zero else Succeeded, `OnFailure` Succeeded once all exited 0 (else
  Running, restarting), `Always` Running;
- conditions PodScheduled, Initialized, ContainersReady and Ready, with the kubelet's
  reasons (`ContainersNotInitialized`, `ContainersNotReady`, `PodCompleted`) and messages
  naming the containers; a transition time changes only when the status does;
- container statuses carry `state`, `lastState` (the previous run, after a restart),
  `ready`, `started`, `restartCount`, `image`, `imageID`, `containerID`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from odoo_operator.sandbox.ports import LOOPBACK

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Termination:
    exit_code: int
    started_at: dt.datetime
    finished_at: dt.datetime
    message: str = ""

    @property
    def reason(self) -> str:
        return "Completed" if self.exit_code == 0 else "Error"

    def as_state(self, container_id: str) -> dict[str, Any]:
        terminated: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": timestamp(self.started_at),
            "finishedAt": timestamp(self.finished_at),
            "containerID": container_id,
        }
        if self.message:
            terminated["message"] = self.message
        return {"terminated": terminated}


@dataclass
class ContainerState:
    """What the node knows about one container; mutated by the pod worker only."""

    name: str
    image: str
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    started_at: dt.datetime | None = None  # of the current run, while it runs
    terminated: Termination | None = None  # the current run has ended
    last_termination: Termination | None = None  # the run before a restart
    ready: bool = False
    restart_count: int = 0

    @property
    def container_id(self) -> str:
        return f"sandbox://{self.name}-{self.restart_count}"

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.terminated is None

    def status(self) -> dict[str, Any]:
        if self.terminated is not None:
            state = self.terminated.as_state(self.container_id)
        elif self.started_at is not None:
            state = {"running": {"startedAt": timestamp(self.started_at)}}
        else:
            waiting = {"reason": self.waiting_reason}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            state = {"waiting": waiting}
        last: dict[str, Any] = {}
        if self.last_termination is not None:
            previous_id = f"sandbox://{self.name}-{self.restart_count - 1}"
            last = self.last_termination.as_state(previous_id)
        status: dict[str, Any] = {
            "name": self.name,
            "state": state,
            "lastState": last,
            "ready": self.ready,
            "started": self.running,
            "restartCount": self.restart_count,
            "image": self.image,
            "imageID": f"sandbox://{self.image}",
        }
        if self.started_at is not None or self.terminated is not None:
            status["containerID"] = self.container_id
        return status


def _init_failed(init: Sequence[ContainerState], restart_policy: str) -> bool:
    return restart_policy == "Never" and any(
        c.terminated is not None and c.terminated.exit_code != 0 for c in init
    )


def _initialized(init: Sequence[ContainerState]) -> bool:
    return all(c.terminated is not None and c.terminated.exit_code == 0 for c in init)


def phase(
    init: Sequence[ContainerState], main: Sequence[ContainerState], restart_policy: str
) -> str:
    """The pod phase, by kubelet's rules (see the module docstring)."""
    if _init_failed(init, restart_policy):
        return FAILED
    if not _initialized(init):
        return PENDING
    running = sum(1 for c in main if c.running)
    waiting = sum(
        1 for c in main if c.started_at is None and c.terminated is None and not c.restart_count
    )
    stopped = [c for c in main if c.terminated is not None or c.last_termination is not None]
    if waiting:
        return PENDING
    return RUNNING if running else _phase_when_stopped(stopped, restart_policy)


def _phase_when_stopped(stopped: Sequence[ContainerState], restart_policy: str) -> str:
    exits = [
        (c.terminated or c.last_termination).exit_code  # type: ignore[union-attr]
        for c in stopped
    ]
    if restart_policy == "Always":
        return RUNNING
    if restart_policy == "OnFailure":
        return SUCCEEDED if all(code == 0 for code in exits) else RUNNING
    return FAILED if any(code != 0 for code in exits) else SUCCEEDED


def _condition(
    kind: str,
    true: bool,
    before: Mapping[str, Any] | None,
    now: dt.datetime,
    *,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    status = "True" if true else "False"
    unchanged = before is not None and before.get("status") == status
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": before.get("lastTransitionTime")
        if unchanged and before is not None
        else timestamp(now),
    }
    if not true and reason:
        condition["reason"] = reason
        condition["message"] = message
    return condition


def conditions(
    init: Sequence[ContainerState],
    main: Sequence[ContainerState],
    pod_phase: str,
    previous: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """PodScheduled, Initialized, ContainersReady and Ready, kubelet-style."""
    before = {str(c.get("type")): c for c in previous}
    incomplete = [c.name for c in init if c.terminated is None or c.terminated.exit_code != 0]
    unready = [c.name for c in main if not c.ready]
    completed = pod_phase in (SUCCEEDED, FAILED)
    if completed:
        ready_reason, ready_message = "PodCompleted", ""
    else:
        ready_reason = "ContainersNotReady"
        ready_message = f"containers with unready status: [{' '.join(unready)}]"
    all_ready = not unready and not completed
    not_ready = {"reason": ready_reason, "message": ready_message}
    return [
        _condition(
            "Initialized",
            not incomplete or completed,
            before.get("Initialized"),
            now,
            reason="ContainersNotInitialized",
            message=f"containers with incomplete status: [{' '.join(incomplete)}]",
        ),
        _condition("Ready", all_ready, before.get("Ready"), now, **not_ready),
        _condition("ContainersReady", all_ready, before.get("ContainersReady"), now, **not_ready),
        _condition("PodScheduled", True, before.get("PodScheduled"), now),
    ]


def pod_status(
    init: Sequence[ContainerState],
    main: Sequence[ContainerState],
    *,
    restart_policy: str,
    start_time: dt.datetime,
    previous: Mapping[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    """The whole `status` the node writes for a pod it runs."""
    pod_phase = phase(init, main, restart_policy)
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": conditions(init, main, pod_phase, previous.get("conditions") or (), now),
        "hostIP": LOOPBACK,
        "podIP": LOOPBACK,
        "podIPs": [{"ip": LOOPBACK}],
        "startTime": timestamp(start_time),
        "containerStatuses": [c.status() for c in main],
    }
    if init:
        status["initContainerStatuses"] = [c.status() for c in init]
    return status

"""Pod phase and conditions from container states, by the kubelet's rules."""

from __future__ import annotations

import datetime as dt

import pytest

from odoo_operator.sandbox.podsim.status import (
    ContainerState,
    Termination,
    conditions,
    phase,
    pod_status,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=5)


def waiting(name: str = "c") -> ContainerState:
    return ContainerState(name, "img")


def running(name: str = "c", ready: bool = False) -> ContainerState:
    return ContainerState(name, "img", started_at=T0, ready=ready)


def exited(code: int, name: str = "c") -> ContainerState:
    return ContainerState(name, "img", started_at=T0, terminated=Termination(code, T0, T1))


def restarting(code: int, name: str = "c") -> ContainerState:
    return ContainerState(
        name, "img", waiting_reason="CrashLoopBackOff", last_termination=Termination(code, T0, T1),
        restart_count=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("init", "main", "policy", "expected"),
    [
        ([], [waiting()], "Always", "Pending"),
        ([], [running()], "Always", "Running"),
        ([], [running("a"), waiting("b")], "Always", "Pending"),
        ([], [exited(0)], "Never", "Succeeded"),
        ([], [exited(3)], "Never", "Failed"),
        ([], [exited(0, "a"), exited(1, "b")], "Never", "Failed"),
        ([], [exited(0, "a"), running("b")], "Never", "Running"),
        ([], [exited(0)], "OnFailure", "Succeeded"),
        ([], [restarting(1)], "OnFailure", "Running"),
        ([], [exited(0)], "Always", "Running"),
        ([], [restarting(0)], "Always", "Running"),
        ([running("i")], [waiting()], "Never", "Pending"),
        ([exited(0, "i")], [running()], "Never", "Running"),
        ([exited(2, "i")], [waiting()], "Never", "Failed"),
        ([exited(2, "i")], [waiting()], "OnFailure", "Pending"),
    ],
)
def test_phase(
    init: list[ContainerState], main: list[ContainerState], policy: str, expected: str
) -> None:
    assert phase(init, main, policy) == expected


def _by_type(items: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in items}


def test_ready_conditions_name_the_unready_containers() -> None:
    found = _by_type(conditions([], [running("a", ready=True), running("b")], "Running", [], T0))
    assert found["Ready"]["status"] == "False"
    assert found["Ready"]["reason"] == "ContainersNotReady"
    assert found["Ready"]["message"] == "containers with unready status: [b]"
    assert found["ContainersReady"]["status"] == "False"
    assert found["Initialized"]["status"] == "True"
    assert found["PodScheduled"]["status"] == "True"


def test_finished_pod_is_not_ready_because_it_completed() -> None:
    found = _by_type(conditions([], [exited(0)], "Succeeded", [], T0))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "PodCompleted")


def test_incomplete_init_containers_are_named() -> None:
    found = _by_type(conditions([running("migrate")], [waiting()], "Pending", [], T0))
    assert found["Initialized"]["status"] == "False"
    assert found["Initialized"]["message"] == "containers with incomplete status: [migrate]"


def test_transition_time_moves_only_when_the_status_does() -> None:
    first = conditions([], [running(ready=True)], "Running", [], T0)
    same = _by_type(conditions([], [running(ready=True)], "Running", first, T1))
    assert same["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    flipped = _by_type(conditions([], [running()], "Running", first, T1))
    assert flipped["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"


def test_container_statuses_after_a_restart() -> None:
    status = pod_status(
        [], [restarting(1)], restart_policy="OnFailure", start_time=T0, previous={}, now=T1
    )
    (container,) = status["containerStatuses"]
    assert container["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert container["lastState"]["terminated"]["reason"] == "Error"
    assert container["restartCount"] == 1
    assert container["started"] is False
    assert status["hostIP"] == status["podIP"] == "127.0.0.1"
    assert status["startTime"] == "2026-01-01T00:00:00Z"
    assert "initContainerStatuses" not in status


def test_terminated_state_carries_the_exit_code() -> None:
    state = exited(137).status()["state"]["terminated"]
    assert (state["exitCode"], state["reason"]) == (137, "Error")
    assert exited(0).status()["state"]["terminated"]["reason"] == "Completed"

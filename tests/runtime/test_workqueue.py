"""Property tests of the work queue's stated guarantees (workqueue.py, delaying.py)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from odoo_operator.runtime.delaying import DelayingQueue
from odoo_operator.runtime.workqueue import QueueEmpty, ShutDown, WorkQueue

KEYS = st.sampled_from("abcdef")


class QueueMachine(RuleBasedStateMachine):
    """Random add/get/done sequences, checked against the guarantees after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: WorkQueue[str] = WorkQueue()
        self.processing: set[str] = set()
        # Keys added since they were last handed out, in order of their first add.
        self.expected_order: list[str] = []
        self.added_while_processing: set[str] = set()

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.queue.add(key)
        if key in self.processing:
            self.added_while_processing.add(key)
        elif key not in self.expected_order:
            self.expected_order.append(key)

    @rule()
    def get(self) -> None:
        try:
            key = self.queue.get_nowait()
        except QueueEmpty:
            assert not self.expected_order, "keys were waiting but none was handed out"
            return
        # One at a time: never a key a worker already holds.
        assert key not in self.processing
        # Fair and stingy: the oldest waiting key, handed out once however often added.
        assert key == self.expected_order.pop(0)
        self.processing.add(key)

    @precondition(lambda self: self.processing)
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.processing)))
        self.queue.done(key)
        self.processing.discard(key)
        if key in self.added_while_processing:
            # Added during processing: handed out once more, after done().
            self.added_while_processing.discard(key)
            self.expected_order.append(key)

    @invariant()
    def lengths_agree(self) -> None:
        assert len(self.queue) == len(self.expected_order)
        assert self.queue.processing() == self.processing


TestQueueGuarantees = QueueMachine.TestCase
TestQueueGuarantees.settings = settings(max_examples=200, stateful_step_count=40)


@given(st.lists(KEYS, max_size=30))
def test_shut_down_hands_out_nothing_and_ignores_adds(keys: list[str]) -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in keys:
        queue.add(key)
    held = queue.get_nowait() if keys else None
    queue.shut_down()
    queue.add("z")
    with pytest.raises(ShutDown):
        queue.get_nowait()
    if held is not None:
        queue.done(held)  # in-flight keys may still be marked done
        assert queue.processing() == set()


async def test_blocked_workers_wake_for_new_keys_and_on_shutdown() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0)
    queue.add("a")
    queue.add("b")
    for _ in range(100):
        if sum(task.done() for task in getters) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(task.result() for task in getters if task.done()) == ["a", "b"]
    (waiting,) = [task for task in getters if not task.done()]
    queue.shut_down()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(waiting, 5)


async def test_a_cancelled_waiter_passes_its_wakeup_on() -> None:
    queue: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("a")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 5) == "a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


DELAYED_ADDS = st.lists(
    st.tuples(KEYS, st.floats(min_value=-1, max_value=50), st.floats(min_value=0, max_value=20)),
    max_size=25,
)


@given(DELAYED_ADDS)
def test_delayed_keys_come_neither_early_nor_late(adds: list[tuple[str, float, float]]) -> None:
    """A delayed key is handed out once its earliest due time has passed, never before."""
    clock = FakeClock()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    waiting: dict[str, float] = {}  # delayed adds not yet due: the earliest time wins
    due: set[str] = set()  # keys that may be handed out now
    for key, delay, advance in adds:
        queue.add_after(key, delay)
        if delay <= 0:
            due.add(key)  # a plain add; a waiting delayed add of the key stays
        else:
            waiting[key] = min(waiting.get(key, clock.now + delay), clock.now + delay)
        clock.now += advance
        queue.release_due()
        for ready_key, when in list(waiting.items()):
            if when <= clock.now:
                due.add(ready_key)
                del waiting[ready_key]
        handed_out = set()
        while True:
            try:
                got = queue.get_nowait()
            except QueueEmpty:
                break
            assert got in due, "handed out before its delay passed"
            assert got not in handed_out, "handed out twice"
            handed_out.add(got)
            queue.done(got)
        assert handed_out == due, "a due key was not handed out"
        due.clear()
    assert queue.waiting() == len(waiting)


async def test_run_loop_releases_a_delayed_key_on_time() -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    runner = asyncio.create_task(queue.run())
    loop = asyncio.get_running_loop()
    started = loop.time()
    queue.add_after("later", 0.3)
    queue.add_after("sooner", 0.1)
    assert await asyncio.wait_for(queue.get(), 5) == "sooner"
    assert await asyncio.wait_for(queue.get(), 5) == "later"
    assert loop.time() - started >= 0.3
    queue.shut_down()
    await asyncio.wait_for(runner, 5)

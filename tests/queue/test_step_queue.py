"""The step queue keeps SQS FIFO's promise locally and in AWS: per session one step at a time, in order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws

from runtime_core.queue import StepMessage
from runtime_core.queue.local import DEDUP_WINDOW_SECONDS, LocalStepQueue
from runtime_core.queue.sqs import SqsStepQueue


def _msg(session: str, n: int, reason: str = "continue") -> StepMessage:
    return StepMessage(session_id=session, app_id="app", user_id="u", reason=reason, dedup_id=f"v{n}")


def test_local_queue_runs_one_step_at_a_time_per_session_in_order() -> None:
    running: dict[str, int] = {}
    overlaps: list[str] = []
    seen: dict[str, list[int]] = {}
    lock = threading.Lock()

    def process(message: StepMessage) -> None:
        with lock:
            running[message.session_id] = running.get(message.session_id, 0) + 1
            if running[message.session_id] > 1:
                overlaps.append(message.session_id)
            seen.setdefault(message.session_id, []).append(int(message.dedup_id[1:]))
        time.sleep(0.001)
        with lock:
            running[message.session_id] -= 1

    queue = LocalStepQueue(process, workers=4)
    for n in range(20):
        for session in ("a", "b", "c"):
            queue.enqueue(_msg(session, n))
    assert queue.join(timeout=30)
    queue.close()
    assert overlaps == []
    assert seen == {s: list(range(20)) for s in ("a", "b", "c")}


def test_local_queue_drops_a_duplicate_deduplication_id() -> None:
    calls: list[StepMessage] = []
    queue = LocalStepQueue(calls.append)
    for _ in range(5):
        queue.enqueue(_msg("s", 1))
    queue.enqueue(_msg("s", 2))
    assert queue.join(timeout=10)
    assert [m.dedup_id for m in calls] == ["v1", "v2"]


def test_local_queue_retries_then_parks_a_failing_step_in_dead_letters() -> None:
    attempts: list[str] = []

    def process(message: StepMessage) -> None:
        attempts.append(message.dedup_id)
        if message.dedup_id == "v1":
            raise RuntimeError("model unavailable")

    queue = LocalStepQueue(process, max_attempts=3, retry_delay=0.0)
    queue.enqueue(_msg("s", 1))
    queue.enqueue(_msg("s", 2))
    assert queue.join(timeout=10)
    assert attempts == ["v1", "v1", "v1", "v2"]
    assert [m.dedup_id for m in queue.dead_letters] == ["v1"]


@mock_aws
def test_sqs_queue_uses_the_session_as_message_group_and_deduplicates() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="steps.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = SqsStepQueue(url, client=sqs)
    queue.enqueue(_msg("s1", 1, "start"))
    queue.enqueue(_msg("s1", 1, "start"))  # the same step twice: delivered once
    queue.enqueue(_msg("s1", 2))
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    bodies = [StepMessage.model_validate(json.loads(m["Body"])) for m in received]
    assert [b.dedup_id for b in bodies] == ["v1", "v2"]
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"s1"}


def _blocking(
    release: threading.Event, started: list[str], lock: threading.Lock
) -> Callable[[StepMessage], None]:
    """A step that records its start, then waits for ``release`` (a hung model call)."""

    def process(message: StepMessage) -> None:
        with lock:
            started.append(f"{message.session_id}:{message.dedup_id}")
        release.wait(30)

    return process


def test_sessions_stuck_in_a_step_do_not_delay_another_session() -> None:
    release = threading.Event()
    started: list[str] = []
    lock = threading.Lock()
    hung = _blocking(release, started, lock)
    ran = threading.Event()

    def process(message: StepMessage) -> None:
        if message.session_id == "quick":
            ran.set()
        else:
            hung(message)

    # More stuck sessions than a small pool has threads (the old default was 8).
    queue = LocalStepQueue(process)
    for n in range(12):
        queue.enqueue(_msg(f"stuck-{n}", 1))
    queue.enqueue(_msg("quick", 1))
    try:
        assert ran.wait(5), "the quick session waited behind the stuck ones"
        assert len(queue.running()) == 12
    finally:
        release.set()
    assert queue.join(timeout=10)


def test_past_the_thread_cap_sessions_take_turns_one_step_each() -> None:
    order: list[str] = []
    gate = threading.Event()

    def process(message: StepMessage) -> None:
        order.append(f"{message.session_id}{message.dedup_id[1:]}")
        if len(order) == 1:
            gate.wait(10)  # a1 runs while the rest is queued

    queue = LocalStepQueue(process, workers=1)
    for n in (1, 2, 3):
        queue.enqueue(_msg("a", n))
    queue.enqueue(_msg("b", 1))
    queue.enqueue(_msg("b", 2))
    gate.set()
    assert queue.join(timeout=10)
    # One thread: b does not wait for a's whole chain; each session's steps still run in order.
    assert order == ["a1", "b1", "a2", "b2", "a3"]


def test_stop_lets_running_steps_finish_and_drops_what_was_queued() -> None:
    release = threading.Event()
    started: list[str] = []
    lock = threading.Lock()
    queue = LocalStepQueue(_blocking(release, started, lock), workers=2)
    for session in ("a", "b", "c"):  # c waits for a thread (the cap is 2)
        queue.enqueue(_msg(session, 1))
        queue.enqueue(_msg(session, 2))
    deadline = time.monotonic() + 5
    while len(queue.running()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    queue.stop()
    queue.enqueue(_msg("d", 1))  # a step chained during the stop is dropped too
    assert queue.running() == ["a", "b"]
    assert queue.queued() == 0 and queue.dropped == 5
    assert not queue.wait_running(timeout=0.2)  # the stuck steps are still running
    release.set()
    assert queue.wait_running(timeout=10)
    assert queue.join(timeout=10)
    assert sorted(started) == ["a:v1", "b:v1"]


def test_a_failing_step_is_not_retried_once_the_queue_is_stopped() -> None:
    attempts: list[str] = []
    failing = threading.Event()

    def process(message: StepMessage) -> None:
        attempts.append(message.dedup_id)
        failing.set()
        time.sleep(0.2)
        raise RuntimeError("model unavailable")

    queue = LocalStepQueue(process, max_attempts=3, retry_delay=0.0)
    queue.enqueue(_msg("s", 1))
    assert failing.wait(5)
    queue.stop()
    assert queue.wait_running(timeout=10)
    assert attempts == ["v1"]
    assert queue.dead_letters == [] and queue.dropped == 1


def test_a_deduplication_id_is_accepted_again_after_the_five_minute_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("runtime_core.queue.local.time.monotonic", lambda: clock[0])
    calls: list[str] = []
    queue = LocalStepQueue(lambda m: calls.append(m.dedup_id))
    queue.enqueue(_msg("s", 1))
    clock[0] += DEDUP_WINDOW_SECONDS - 1
    queue.enqueue(_msg("s", 1))  # inside the window: dropped
    clock[0] += 2
    queue.enqueue(_msg("s", 1))  # past it: a new message, as SQS would take it
    assert queue.join(timeout=10)
    assert calls == ["v1", "v1"]

"""The step queue keeps SQS FIFO's promise locally and in AWS: per session one step at a time, in order."""

from __future__ import annotations

import json
import threading
import time

import boto3
from moto import mock_aws

from runtime_core.queue import StepMessage
from runtime_core.queue.local import LocalStepQueue
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

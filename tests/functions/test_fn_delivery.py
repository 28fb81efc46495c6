"""Delivery guarantees on the real handlers, SQS FIFO (moto) and the store: every acknowledged input is
processed exactly once, and a session moves again by itself after a fault.

Each test starts from the failing input or fault an outside tester reported (the numbers are the issue's).
The store runs on a fake clock, so leases expire and alarms pass without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from runtime_core import faults
from runtime_core.queue import StepMessage
from runtime_core.queue.sqs import SqsStepQueue
from runtime_core.services import Services, install_services
from runtime_core.session import SessionStatus, Tenant
from runtime_core.store.mongo import MongoSessionStore, StoreSettings, connect
from runtime_core.worker import sqs_batch
from runtime_core.worker.sweeper import Sweeper
from tests.functions.conftest import WORKFLOWS
from tests.functions.harness import Client, events_of, replies_of, run_queue
from tests.store.scenario import FakeClock

TENANT = Tenant(app_id="app-1", user_id="user-1")
FIRST = "Hi, where is my order A100?"


class Killed(BaseException):
    """The process died here: nothing after this point runs (``except Exception`` does not catch it)."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stack(aws: Any, mongo_uri: str, clock: FakeClock) -> Iterator[Services]:
    import uuid

    client = connect(mongo_uri)
    store = MongoSessionStore(client, StoreSettings(db_name=f"d{uuid.uuid4().hex[:12]}"), clock=clock)
    store.ensure_indexes()
    services = Services(
        store_factory=lambda: store,
        queue_factory=lambda: SqsStepQueue(aws.url, client=aws.sqs),
        workflows_dir=WORKFLOWS,
    )
    install_services(services)
    yield services
    faults.install(None)
    client.drop_database(store.settings.db_name)
    client.close()


def sweep(services: Services) -> Any:
    return Sweeper(services, grace_seconds=services.store.recovery_grace_seconds, callback_url=None).sweep()


def start(
    client: Client, workflow: str = "CustomerSupport", msg_id: str = "m-1", message: str | None = FIRST
) -> str:
    frame: dict[str, Any] = {"type": "start", "workflow": workflow, "msg_id": msg_id}
    if message is not None:
        frame["message"] = message
    (ack,) = replies_of(client.send(frame))
    assert ack["type"] == "ack", ack
    return str(ack["session_id"])


def say(client: Client, session_id: str, msg_id: str, text: str) -> list[dict[str, Any]]:
    return replies_of(
        client.send({"type": "user_message", "session_id": session_id, "msg_id": msg_id, "text": text})
    )


def kill_at(point: str, occurrence: int = 1) -> None:
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == occurrence:
                faults.install(None)
                raise Killed(point)

    faults.install(hook)


def drop_queued(aws: Any) -> None:
    """Lose every queued step message (what a crash of the local queue or the dead-letter queue does)."""
    while messages := aws.receive():
        for m in messages:
            aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"])


def deliver_one(aws: Any) -> dict[str, Any] | None:
    """Receive one step message and run the worker on it; a kill leaves the message in flight."""
    from functions import worker
    from tests.functions.harness import LambdaContext

    messages = aws.receive(max_messages=1)
    if not messages:
        return None
    try:
        response = worker.handler(aws.sqs_event(messages), LambdaContext("worker"))
    except Killed:
        return None  # the process died: no delete, no batch response; SQS keeps the message in flight
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"])
    return response


# ---- 1-3: the idempotency contract -----------------------------------------------------------------------
def test_1_a_msg_id_is_scoped_to_its_session_and_a_start_to_its_tenant(aws: Any, stack: Services) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    first = start(client, msg_id="chat-1")
    run_queue(aws)
    second = start(client, msg_id="chat-2")
    run_queue(aws)
    # Frontends number messages per chat: m-0001 in each session is a new input in each.
    for session_id in (first, second):
        (ack,) = say(client, session_id, "m-0001", "Thanks. I'd like to talk to a human about a refund.")
        assert ack["duplicate"] is False
    run_queue(aws)
    for session_id in (first, second):
        texts = [e.text for e in stack.store.events_after(TENANT, session_id, 0) if e.type == "user_message"]
        assert texts[-1].startswith("Thanks.")
    # A start that reuses an earlier start's msg_id for another workflow is refused, not merged.
    (reply,) = replies_of(client.send({"type": "start", "workflow": "TripPlanner", "msg_id": "chat-1"}))
    assert reply["type"] == "error" and reply["code"] == "msg_id_reused", reply
    # The same start again is a duplicate with the original outcome.
    again = replies_of(
        client.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "chat-1", "message": FIRST})
    )
    assert again[0] == {"type": "ack", "msg_id": "chat-1", "session_id": first, "duplicate": True}
    assert [r["type"] for r in again] == ["ack", "replay_end"]  # a duplicate start replays like a resume


def test_2_a_frame_resent_after_its_input_was_consumed_is_a_duplicate_whatever_the_state(
    aws: Any, stack: Services
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    frame = ("m-2", "Thanks. I'd like to talk to a human about a refund.")
    assert say(client, session_id, *frame)[0]["duplicate"] is False
    run_queue(aws)
    assert say(client, session_id, "m-3", "Please call me at +1 555 0100.")[0]["duplicate"] is False
    run_queue(aws)
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.completed
    # The session is closed now, and m-2 was consumed long ago: still a duplicate, not an error.
    assert say(client, session_id, *frame) == [
        {"type": "ack", "msg_id": "m-2", "session_id": session_id, "duplicate": True}
    ]
    # The same msg_id with another text is a reuse: a clear error, never a silent drop.
    (reply,) = say(client, session_id, "m-2", "something else")
    assert reply["code"] == "msg_id_reused"
    # A new msg_id on the closed session is refused as closed (its state is checked after the key).
    assert say(client, session_id, "m-9", "hello?")[0]["code"] == "session_closed"


def test_3_a_refused_input_does_not_use_its_msg_id_up(aws: Any, stack: Services) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    request = [e for e in events_of(client.poll()) if e["type"] == "input_request"][-1]["request"]
    assert request["kind"] == "user_turn"
    # An answer to a user turn is refused before anything is recorded...
    wrong = client.send(
        {
            "type": "answer",
            "session_id": session_id,
            "msg_id": "m-2",
            "request_id": request["request_id"],
            "text": "Thanks. I'd like to talk to a human about a refund.",
        }
    )
    assert [r["code"] for r in replies_of(wrong)] == ["message_expected"]
    assert aws.depth() == 0
    # ...so the corrected frame, sent again with the same msg_id as the docs say, is taken and consumed.
    assert (
        say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")[0]["duplicate"]
        is False
    )
    run_queue(aws)
    texts = [e.text for e in stack.store.events_after(TENANT, session_id, 0) if e.type == "user_message"]
    assert texts[-1].startswith("Thanks.")


def test_3_an_input_its_step_refused_gives_its_msg_id_back(aws: Any, stack: Services) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    # The input passes the frame checks, then the session's state changes under it (another device answered
    # first): its step refuses it. Recorded directly here, as a frame racing another would be.
    from runtime_core.session import UserInput

    stack.store.record_input(
        TENANT, session_id, UserInput(input_id="m-2", kind="answer", request_id="req-x"), "h"
    )
    stack.queue.enqueue(
        StepMessage(
            session_id=session_id, app_id="app-1", user_id="user-1", reason="input", dedup_id="in:m-2"
        )
    )
    run_queue(aws)
    refused = [e for e in events_of(client.poll()) if e["type"] == "error"]
    assert refused and refused[-1]["code"] == "invalid_input" and refused[-1]["input_id"] == "m-2"
    record = stack.store.find_input(TENANT, session_id, "m-2")
    assert record is not None and record.status == "refused"
    assert (
        say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")[0]["duplicate"]
        is False
    )


# ---- 4: input while a run is going ----------------------------------------------------------------------
def test_4_a_message_to_a_run_that_never_takes_input_is_refused(aws: Any, stack: Services) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client, workflow="ContentReview", message=None)
    assert deliver_one(aws) is not None  # the run is going
    (reply,) = say(client, session_id, "m-2", "Make it shorter please")
    assert reply["code"] == "input_not_accepted"
    run_queue(aws)
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.completed


def test_4_inputs_still_queued_when_a_run_ends_are_reported_not_dropped(aws: Any, stack: Services) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")
    run_queue(aws)
    # The last input ends the run; two more were queued behind it while it ran.
    say(client, session_id, "m-3", "Please call me at +1 555 0100.")
    say(client, session_id, "m-4", "Also, can you email me?")
    say(client, session_id, "m-5", "Hello?")
    run_queue(aws)
    client.poll()
    events = events_of(client.inbox)
    tail = [(e["type"], e.get("code")) for e in events[-3:]]
    assert tail == [("error", "input_not_consumed"), ("error", "input_not_consumed"), ("run_completed", None)]
    assert "m-4" in events[-3]["message"] and "m-5" in events[-2]["message"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


# ---- 5-7: nothing stranded, nothing frozen ---------------------------------------------------------------
def test_5_an_input_whose_step_message_was_lost_is_re_armed(
    aws: Any, stack: Services, clock: FakeClock
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")
    drop_queued(aws)  # the step message is gone (a crashed local queue, a DLQ)
    # A resume re-arms it at once: the session has a pending input and no step running.
    client.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    run_queue(aws)
    assert stack.store.find_input(TENANT, session_id, "m-2").status == "completed"  # type: ignore[union-attr]

    # Without any client: the sweeper finds the input's session due after the grace period.
    say(client, session_id, "m-3", "Please call me at +1 555 0100.")
    drop_queued(aws)
    assert sweep(stack).queued == 0  # not due yet
    clock.advance(stack.store.recovery_grace_seconds + 1)
    assert sweep(stack).queued == 1
    run_queue(aws)
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.completed


@pytest.mark.parametrize("point", ["after_commit", "after_post", "after_enqueue"])
def test_6_a_process_dying_after_its_commit_leaves_nothing_undone(
    aws: Any, stack: Services, clock: FakeClock, point: str
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    kill_at(point)
    assert deliver_one(aws) is None  # died: the message stays in flight, invisible for 30 minutes
    committed = stack.store.header(TENANT, session_id)
    assert committed.outbox is not None and committed.state.last_event_seq > 0
    # The sweeper, once the session is due, carries the outbox out: the events posted, the next step queued.
    clock.advance(stack.store.recovery_grace_seconds + 1)
    report = sweep(stack)
    assert report.outboxes == 1
    run_queue(aws)
    assert stack.store.header(TENANT, session_id).outbox is None
    client.poll()
    events = events_of(client.inbox)
    seqs = sorted({e["seq"] for e in events})
    assert seqs == list(range(1, seqs[-1] + 1)) and events[-1]["type"] == "input_request"


def test_6_a_failed_enqueue_after_the_commit_is_finished_by_the_redelivery(
    aws: Any, stack: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    queue = stack.queue
    real = queue.enqueue
    calls = {"n": 0}

    def flaky(message: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SQS unreachable")
        real(message)

    monkeypatch.setattr(queue, "enqueue", flaky)
    response = deliver_one(aws)
    assert response is not None and len(response["batchItemFailures"]) == 1
    monkeypatch.setattr(queue, "enqueue", real)
    # The worker asked SQS to deliver it again in 2 s, not after the queue's 30-minute visibility timeout.
    assert aws.receive() == []
    time.sleep(2.5)
    sqs_batch.REPORTS.clear()
    run_queue(aws)
    assert sqs_batch.REPORTS[0].outbox_recovered is True
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input


def test_7_a_step_killed_mid_run_moves_again_at_once_on_resume_once_its_lease_expired(
    aws: Any, stack: Services, clock: FakeClock
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    kill_at("before_commit")
    assert deliver_one(aws) is None
    assert aws.receive() == []  # the killed delivery's message is in flight: the session's group is blocked
    client.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    assert aws.receive() == []  # within the lease: the step may still be running, nothing is re-armed
    clock.advance(stack.settings.worker.lease_seconds + 1)
    client.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    # The resume released the dead delivery's message (its receipt was kept with the lease) and re-armed.
    sqs_batch.REPORTS.clear()
    run_queue(aws)
    assert sqs_batch.REPORTS and sqs_batch.REPORTS[0].action == "run"
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input
    # A client keeps the first copy of each seq (the resume's re-arm may post a step's events again).
    events = {e["seq"]: e for e in reversed(events_of(client.poll()))}
    assert [e["type"] for e in events.values()].count("user_message") == 1


def test_7_the_sweeper_releases_a_dead_delivery_without_any_client(
    aws: Any, stack: Services, clock: FakeClock
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    kill_at("before_model")
    assert deliver_one(aws) is None
    clock.advance(stack.settings.worker.lease_seconds + 1)
    report = sweep(stack)
    assert report.released_messages == 1 and report.queued == 1
    run_queue(aws)
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input


# ---- 9, 11: time budget, honest usage --------------------------------------------------------------------
def test_9_a_step_short_of_time_reports_a_model_timeout_before_it_would_be_killed(
    aws: Any, stack: Services
) -> None:
    from functions import worker
    from tests.functions.harness import LambdaContext

    class Short(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 11_000  # the margin (10 s) leaves less than one model attempt

    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    messages = aws.receive(max_messages=1)
    assert worker.handler(aws.sqs_event(messages), Short("worker")) == {"batchItemFailures": []}
    errors = [e for e in events_of(client.poll()) if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["model_timeout"] and errors[0]["recoverable"] is True
    assert stack.store.find_input(TENANT, session_id, "m-1").status == "in_progress"  # type: ignore[union-attr]


def test_11_every_provider_call_is_in_the_ledger_even_when_the_step_died_after_it(
    aws: Any, stack: Services, clock: FakeClock
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    kill_at("after_reply")  # the model answered; the process died before anything else
    assert deliver_one(aws) is None
    ledger = stack.store.usage.count_documents({"session_id": session_id})  # type: ignore[attr-defined]
    assert ledger == 1
    clock.advance(stack.settings.worker.lease_seconds + 1)
    sweep(stack)
    run_queue(aws)
    # The reply was asked again (the crash came before its commit): both calls are billed.
    state = stack.store.get_session(TENANT, session_id)
    assert stack.store.usage.count_documents({"session_id": session_id}) == state.usage.calls + 1  # type: ignore[attr-defined]


def test_6_an_answer_after_a_worker_died_past_its_commit_does_not_wait_for_the_sweeper(
    aws: Any, stack: Services, clock: FakeClock
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)  # the first reply, its tool, the next reply: the session waits for the user
    say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")
    kill_at("after_post")  # the step that consumed m-2 and asks for a phone number: posted, then died
    while deliver_one(aws) is not None:
        pass
    assert stack.store.header(TENANT, session_id).outbox is not None
    clock.advance(11)  # the user reads the question and answers, long before any sweep
    assert say(client, session_id, "m-3", "Please call me at +1 555 0100.")[0]["duplicate"] is False
    run_queue(aws)
    assert stack.store.get_session(TENANT, session_id).status == SessionStatus.completed


def test_11_a_call_whose_answer_died_with_the_process_is_still_in_the_ledger(
    aws: Any, stack: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = stack.store
    real = store.record_usage

    def dies_with_the_answer(*args: Any, **kwargs: Any) -> Any:
        # The provider answered; the process is killed before the answer is written anywhere.
        monkeypatch.setattr(store, "record_usage", real)
        raise Killed("between the provider's answer and the ledger")

    monkeypatch.setattr(store, "record_usage", dies_with_the_answer)
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    assert deliver_one(aws) is None
    (noted,) = store.usage.find({"session_id": session_id})  # type: ignore[attr-defined]
    assert noted["status"] == "started"
    clock.advance(stack.settings.worker.lease_seconds + 1)
    sweep(stack)
    run_queue(aws)
    rows = list(store.usage.find({"session_id": session_id}))  # type: ignore[attr-defined]
    # The lost answer stays on record (tokens unknown); every other call is complete.
    assert [r["status"] for r in rows].count("started") == 1
    assert len(rows) == store.get_session(TENANT, session_id).usage.calls + 1

"""A whole CustomerSupport conversation through the real handlers, SQS FIFO and the Management API (moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime_core.session import SessionStatus, Tenant
from runtime_core.worker import sqs_batch
from tests.functions.harness import Client, events_of, replies_of, run_queue

TENANT = Tenant(app_id="app-1", user_id="user-1")


def _emf(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if '"_aws"' in line]


def test_customer_support_end_to_end(
    aws: Any, services: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = Client(aws, "conn-A")
    assert alice.connect() == {"statusCode": 200}
    assert aws.posted("conn-A") == b""  # never post from $connect

    got = alice.send(
        {
            "type": "start",
            "workflow": "CustomerSupport",
            "msg_id": "m-1",
            "message": "Hi, where is my order A100?",
        }
    )
    assert got == [{"type": "ack", "msg_id": "m-1", "session_id": got[0]["session_id"], "duplicate": False}]
    session_id = got[0]["session_id"]
    assert aws.depth() == 1

    sqs_batch.REPORTS.clear()
    run_queue(aws)
    first = events_of(alice.poll())
    assert [e["type"] for e in first] == [
        "run_started",
        "context_updated",  # the initial values
        "user_message",
        "speaker_selected",
        "tool_call",
        "usage",
        "tool_result",
        "context_updated",  # the tool counted the lookup
        "speaker_selected",
        "agent_message",
        "handoff",
        "usage",
        "input_request",
    ]
    assert first[2]["input_id"] == "m-1" and first[2]["text"] == "Hi, where is my order A100?"
    assert "Thursday" in first[9]["content"]
    assert (first[1]["variables"], first[7]["variables"]) == ({"orders_checked": 0}, {"orders_checked": 1})
    request = first[-1]["request"]
    assert store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input

    # The same user message twice (a client retry): one ack each, the second a duplicate, one step only.
    frame = {
        "type": "user_message",
        "session_id": session_id,
        "msg_id": "m-2",
        "text": "Thanks. I'd like to talk to a human about a refund.",
    }
    assert replies_of(alice.send(frame))[0]["duplicate"] is False
    assert replies_of(alice.send(frame))[0]["duplicate"] is True
    assert aws.depth() == 1  # SQS FIFO dropped the re-enqueue under the same deduplication id

    # A second device of the same user follows the session: replay, then live.
    bob = Client(aws, "conn-B")
    bob.connect()
    replay = bob.send({"type": "resume", "session_id": session_id, "after_seq": 0, "msg_id": "r-1"})
    assert replay[0] == {"type": "ack", "msg_id": "r-1", "session_id": session_id, "duplicate": False}
    assert [e["seq"] for e in events_of(replay)] == list(range(1, 14))

    run_queue(aws)
    alice.send(
        {
            "type": "user_message",
            "session_id": session_id,
            "msg_id": "m-3",
            "text": "Please call me at +1 555 0100.",
        }
    )
    run_queue(aws)
    alice.poll()
    bob.poll()

    events = events_of(alice.inbox)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # in order, no gap, no duplicate
    assert events_of(bob.inbox) == events  # the replay plus the live stream: the same events
    assert [e["text"] for e in events if e["type"] == "user_message"] == [
        "Hi, where is my order A100?",
        "Thanks. I'd like to talk to a human about a refund.",
        "Please call me at +1 555 0100.",
    ]
    assert events[-1]["type"] == "run_completed" and events[-1]["status"] == "completed"
    assert request["kind"] == "user_turn"

    state = store.get_session(TENANT, session_id)
    assert state.status == SessionStatus.completed
    assert state.last_event_seq == seqs[-1]
    assert len(store.history(TENANT, session_id)) == 10

    # Constant cost: every step that produced events posted exactly once per subscribed connection.
    ran = [r for r in sqs_batch.REPORTS if r.action == "run"]
    assert ran and all(r.posts == r.connections for r in ran)
    assert sum(r.events for r in ran) == len(events)

    # One EMF record per step, dimensions workflow + app_id only, and the usage the store recorded.
    records = _emf(capsys.readouterr().out)
    assert len(records) == len(ran)
    for record in records:
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "MozaiksTest"
        assert directive["Dimensions"] == [["workflow", "app_id"], ["scope"]]
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        # FrameToFirstEvent only for a step a client frame caused (not for one a worker chained).
        frame = {"FrameToFirstEvent": "Milliseconds"} if "FrameToFirstEvent" in record else {}
        assert units == {
            "Steps": "Count",
            "Errors": "Count",
            "ModelCalls": "Count",
            "PromptTokens": "Count",
            "CompletionTokens": "Count",
            "Cost": "None",
            "StepDuration": "Milliseconds",
            "QueueWait": "Milliseconds",
            "StepEndToEnd": "Milliseconds",
            "Posts": "Count",
            "PostedBytes": "Bytes",
            "PostFailures": "Count",
            **frame,
        }
        assert (record["Posts"][0] > 0) == (record["PostedBytes"][0] > 0) and record["PostFailures"] == [0.0]
        assert record["scope"] == "all"
        assert record["workflow"] == "CustomerSupport" and record["app_id"] == "app-1"
        assert record["session_id"] == session_id and record["user_id"] == "user-1"
        assert record["Steps"] == [1.0] and record["Errors"] == [0.0]
    assert [r["Posts"][0] for r in records] == [r.posts for r in ran]
    # The start and the two messages each caused the step that answered them.
    assert sum("FrameToFirstEvent" in r for r in records) == 3
    assert sum(r["ModelCalls"][0] for r in records) == state.usage.calls == 5
    assert sum(r["PromptTokens"][0] for r in records) == state.usage.prompt_tokens
    assert store.usage.count_documents({"session_id": session_id, "app_id": "app-1"}) == 5


def test_disconnect_forgets_the_connection_and_the_session_lives_on(
    aws: Any, services: Any, store: Any
) -> None:
    alice = Client(aws, "conn-A")
    alice.connect()
    session_id = alice.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1"})[0][
        "session_id"
    ]
    assert alice.disconnect() == {"statusCode": 200}
    assert store.get_connection("conn-A") is None
    run_queue(aws)  # the step runs with nobody listening
    assert store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input

    again = Client(aws, "conn-A2")
    again.connect()
    got = again.send({"type": "resume", "session_id": session_id, "after_seq": 2})
    assert [e["type"] for e in events_of(got)] == ["input_request"]
    again.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "Where is A100?"})
    run_queue(aws)
    assert next(e["seq"] for e in events_of(again.poll())) == 4


def test_a_retried_start_finds_its_session_and_runs_once(aws: Any, services: Any, store: Any) -> None:
    alice = Client(aws, "conn-A")
    alice.connect()
    frame = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    first = replies_of(alice.send(frame))[0]
    again = replies_of(alice.send(frame))[0]
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert again["session_id"] == first["session_id"]
    assert aws.depth() == 1
    sqs_batch.REPORTS.clear()
    run_queue(aws)
    # The first message with the reply that calls a tool, the tool, the next agent's reply.
    assert [r.why for r in sqs_batch.REPORTS if r.action == "run"] == ["input", "agent turn", "agent turn"]
    assert [s.session_id for s in store.list_sessions(TENANT)] == [first["session_id"]]
    assert [e["type"] for e in events_of(alice.poll())].count("user_message") == 1

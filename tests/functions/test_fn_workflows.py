"""The other example workflows through the handlers: a UI tool answered by an `answer` frame; agent-first."""

from __future__ import annotations

from typing import Any

from runtime_core.session import SessionStatus, Tenant
from tests.functions.harness import Client, events_of, replies_of, run_queue

TENANT = Tenant(app_id="app-1", user_id="user-1")


def test_trip_planner_answers_a_ui_tool(aws: Any, services: Any, store: Any) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    frame = {
        "type": "start",
        "workflow": "TripPlanner",
        "msg_id": "m-1",
        "message": "I'd like a long weekend in Lisbon.",
    }
    session_id = replies_of(client.send(frame))[0]["session_id"]
    run_queue(aws)
    request = events_of(client.poll())[-1]["request"]
    assert request["kind"] == "ui_tool" and request["tool_name"] == "choose_dates"

    # While the date picker is open, a chat message is refused (the step would refuse it anyway).
    refused = client.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "hi"})
    assert [r["code"] for r in refused] == ["answer_expected"]
    answer = {
        "type": "answer",
        "session_id": session_id,
        "msg_id": "m-3",
        "request_id": request["request_id"],
        "data": {"start": "2026-06-05", "end": "2026-06-08"},
    }
    assert replies_of(client.send(answer)) == [
        {"type": "ack", "msg_id": "m-3", "session_id": session_id, "duplicate": False}
    ]
    assert replies_of(client.send(answer))[0]["duplicate"] is True  # a retried answer: no second step
    run_queue(aws)
    client.poll()
    events = events_of(client.inbox)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run_completed"
    assert any(e["type"] == "tool_result" and e["name"] == "book_trip" for e in events)
    assert store.get_session(TENANT, session_id).status == SessionStatus.completed


def test_content_review_runs_agent_first_to_its_structured_verdict(
    aws: Any, services: Any, store: Any
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = replies_of(client.send({"type": "start", "workflow": "ContentReview"}))[0]["session_id"]
    run_queue(aws)
    events = events_of(client.poll())
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    verdict = next(e for e in events if e["type"] == "structured_output")
    assert verdict["data"]["decision"] == "revise" and verdict["agent"] == "Editor"
    assert store.get_session(TENANT, session_id).status == SessionStatus.completed

"""Streamed replies through the real handlers: the worker posts text deltas through the Management API (moto)
while the model writes, before the step's stored events; a client that resumes gets the stored text."""

from __future__ import annotations

from typing import Any

from runtime_core.worker import sqs_batch
from tests.functions.harness import Client, events_of, run_queue


def test_the_worker_posts_a_reply_as_deltas_before_its_agent_message(aws: Any, services: Any) -> None:
    alice = Client(aws, "conn-A")
    alice.connect()
    got = alice.send(
        {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    )
    session_id = got[0]["session_id"]
    sqs_batch.REPORTS.clear()
    run_queue(aws)
    received = alice.poll()
    deltas = [m for m in received if m["type"] == "text_delta"]
    message = next(m for m in received if m["type"] == "agent_message")
    assert deltas, "the reply was streamed"
    assert {(d["session_id"], d["agent"], d["turn"], d["message_id"]) for d in deltas} == {
        (session_id, message["agent"], message["turn"], f"{session_id}:{message['turn']}")
    }
    assert "seq" not in deltas[0]
    text = ""
    for delta in deltas:
        assert delta["offset"] == len(text)
        text += delta["text"]
    assert text == message["content"]
    # Every delta arrives before the stored message that closes it.
    assert received.index(deltas[-1]) < received.index(message)
    # Coalesced: far fewer posts than the scripted model's 4-character pieces.
    assert len(deltas) < len(message["content"]) / 4

    # A second client resuming afterwards gets the stored events only: deltas are never replayed.
    bob = Client(aws, "conn-B")
    bob.connect()
    replay = bob.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    assert not [m for m in replay if m["type"] == "text_delta"]
    assert [m["content"] for m in events_of(replay) if m["type"] == "agent_message"] == [message["content"]]

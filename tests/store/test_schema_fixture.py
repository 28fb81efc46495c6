"""Frozen v1 documents (tests/fixtures/store/session_v1.json): whatever the store becomes, it reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bson import json_util

from runtime_core.session import SessionStatus, Tenant
from runtime_core.store import Claim, MongoSessionStore, state_from_document
from tests.store.scenario import FakeClock

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store" / "session_v1.json"
OWNER = Tenant(app_id="acme", user_id="u-42")


def load(store: MongoSessionStore) -> dict:
    data = json_util.loads(FIXTURE.read_text())
    for name in ("sessions", "messages", "events", "inputs"):
        store.db[name].insert_many(data[name])
    return data


def test_frozen_session_document_reads_back(store: MongoSessionStore) -> None:
    data = load(store)
    state = state_from_document(data["sessions"][0])
    assert state.schema_version == 1 and state.status is SessionStatus.awaiting_input
    assert state.pending_input is not None and state.pending_input.request_id == "r-1"
    assert state.engine == {"consecutive_auto_reply": {"triage": 1}, "use_initial_agent": False}
    assert state.context_variables == {"tier": "gold", "issue": None}

    assert store.get_session(OWNER, "sess-fixture-v1") == state


def test_frozen_documents_resume_through_claim(store: MongoSessionStore) -> None:
    load(store)
    claim = store.claim(OWNER, "sess-fixture-v1", "w1")
    assert isinstance(claim, Claim)
    messages = claim.state.messages
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[1].tool_calls[0].arguments == '{"order": "1234"}'
    assert messages[1].raw["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert [i.input_id for i in claim.pending_inputs] == ["c-2"]
    assert [e.type for e in store.events_after(OWNER, "sess-fixture-v1", 0)] == [
        "user_message",
        "agent_message",
    ]


def test_a_schema_1_session_goes_on_in_schema_2(store: MongoSessionStore) -> None:
    from runtime_core.events import AgentMessage
    from runtime_core.session import ChatMessage

    load(store)
    claim = store.claim(OWNER, "sess-fixture-v1", "w1")
    assert isinstance(claim, Claim) and claim.step_count == 0 and not claim.pending_embedded
    state = claim.state
    reply = ChatMessage(
        seq=3, speaker="triage", role="assistant", content="Done.", raw={"content": "Done."}, turn=2
    )
    seq = state.last_event_seq + 1
    event = AgentMessage(session_id=claim.session_id, seq=seq, agent="triage", content="Done.", turn=2)
    next_state = state.model_copy(
        update={"messages": [], "last_event_seq": seq, "turn": 2, "pending_input": None}
    )
    store.commit(claim, next_state, [reply], [event], [], ["c-2"])

    # The old part where it was, the new step after it: one transcript, one event stream.
    assert [m.seq for m in store.history(OWNER, "sess-fixture-v1")] == [0, 1, 2, 3]
    assert [e.type for e in store.events_after(OWNER, "sess-fixture-v1", 0)] == [
        "user_message",
        "agent_message",
        "agent_message",
    ]
    # The consumed input left the pending list, which now lives in the session document; a new container
    # reads the whole transcript back.
    cold = MongoSessionStore(store.client, store.settings)
    again = cold.claim(OWNER, "sess-fixture-v1", "w2")
    assert isinstance(again, Claim) and again.pending_embedded and again.pending_inputs == []
    assert [m.content for m in again.state.messages][-1] == "Done." and again.step_count == 1


FIXTURE_V2 = Path(__file__).parents[1] / "fixtures" / "store" / "session_v2.json"


def test_frozen_schema_2_documents_read_back(store: MongoSessionStore, clock: FakeClock) -> None:
    """Store schema 2 frozen the day it landed: a step document (messages stored once: content and tool calls
    come back from the raw reply), pending inputs in the session document, a msg_id's record with its hash."""
    # The day the documents were written: their idempotency records have not expired yet.
    clock.now = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    data = json_util.loads(FIXTURE_V2.read_text())
    for name in ("sessions", "steps", "inputs"):
        store.db[name].insert_many(data[name])
    claim = store.claim(OWNER, "sess-fixture-v2", "w1")
    assert isinstance(claim, Claim) and claim.step_count == 1 and claim.pending_embedded
    assert [m.content for m in claim.state.messages] == ["Where is order 1234?", None]
    assert claim.state.messages[1].tool_calls[0].arguments == '{"order": "1234"}'
    assert [i.input_id for i in claim.pending_inputs] == ["c-2"]
    assert [e.type for e in store.events_after(OWNER, "sess-fixture-v2", 0)] == ["user_message", "tool_call"]
    consumed = store.find_input(OWNER, "sess-fixture-v2", "c-1")
    assert consumed is not None and consumed.status == "completed" and consumed.payload_hash == "h-c1"

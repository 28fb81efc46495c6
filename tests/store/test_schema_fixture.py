"""Frozen v1 documents (tests/fixtures/store/session_v1.json): whatever the store becomes, it reads them."""

from __future__ import annotations

from pathlib import Path

from bson import json_util

from runtime_core.session import SessionStatus, Tenant
from runtime_core.store import Claim, MongoSessionStore, state_from_document

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

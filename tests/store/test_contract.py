"""The store contract: what handlers and the step worker rely on."""

from __future__ import annotations

import pytest

from runtime_core.events import AgentMessage
from runtime_core.session import SessionStatus, UserInput
from runtime_core.store import (
    Claim,
    ClaimRefused,
    LeaseLost,
    MongoSessionStore,
    SessionExists,
)
from tests.store.scenario import OTHER, TENANT, FakeClock, new_state, step


def claimed(store: MongoSessionStore, session_id: str, owner: str = "w1", lease: float = 60) -> Claim:
    result = store.claim(TENANT, session_id, owner, lease)
    assert isinstance(result, Claim), result
    return result


def test_create_get_and_list(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    got = store.get_session(TENANT, state.session_id)
    assert got.model_dump(exclude={"created_at", "updated_at"}) == state.model_dump(
        exclude={"created_at", "updated_at"}
    )
    with pytest.raises(SessionExists):
        store.create_session(state)
    store.create_session(new_state(tenant=OTHER))
    listed = store.list_sessions(TENANT)
    assert [s.session_id for s in listed] == [state.session_id]
    assert listed[0].workflow_name == "CustomerSupport"


def test_record_input_same_id_ten_times_gives_one_input(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    results = [
        store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message", text="hi"))
        for _ in range(10)
    ]
    assert [r.new for r in results] == [True] + [False] * 9
    assert store.inputs.count_documents({}) == 1
    claim = claimed(store, state.session_id)
    assert [i.input_id for i in claim.pending_inputs] == ["m-1"]


def test_claim_returns_pending_inputs_in_recorded_order(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    ids = ["zz", "aa", "mm", "bb"]
    for i in ids:
        store.record_input(TENANT, state.session_id, UserInput(input_id=i, kind="message", text=i))
    assert [i.input_id for i in claimed(store, state.session_id).pending_inputs] == ids


def test_commit_persists_the_step_and_consumes_inputs(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message", text="hi"))
    store.record_input(TENANT, state.session_id, UserInput(input_id="m-2", kind="message", text="again"))
    claim = claimed(store, state.session_id)
    result = store.commit(claim, *step(claim, n_messages=3, n_events=2, n_usage=2, consumed=["m-1"]))
    assert (result.message_count, result.last_event_seq) == (3, 2)

    claim2 = claimed(store, state.session_id)
    assert [m.seq for m in claim2.state.messages] == [0, 1, 2]
    assert claim2.state.messages[0].raw == {"content": "reply 0", "name": "triage"}
    assert claim2.state.engine == {"counters": {"triage": 1}}
    assert claim2.state.context_variables == {"tier": "gold", "nested": {"a": [1, 2]}}
    assert claim2.state.usage.calls == 2 and claim2.state.usage.prompt_tokens == 20
    assert [i.input_id for i in claim2.pending_inputs] == ["m-2"]
    assert claim2.version == claim.version + 2
    # A consumed input still answers "duplicate", now as completed.
    again = store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message"))
    assert (again.new, again.status) == (False, "completed")

    assert [e.seq for e in store.events_after(TENANT, state.session_id, 0)] == [1, 2]
    assert store.usage.count_documents({"app_id": TENANT.app_id, "user_id": TENANT.user_id}) == 2
    rollups = {(d["dim"], d["key"]): d for d in store.usage_daily.find({"app_id": TENANT.app_id})}
    assert set(rollups) == {("day", ""), ("model", "gpt-4o-mini"), ("workflow", ""), ("agent", "triage")}
    assert rollups[("day", "")]["calls"] == 2 and rollups[("day", "")]["prompt_tokens"] == 20
    assert rollups[("model", "gpt-4o-mini")]["completion_tokens"] == 10
    assert rollups[("day", "")]["steps"] == 1


def test_expired_idempotency_record_accepts_the_id_again(store: MongoSessionStore, clock: FakeClock) -> None:
    state = new_state()
    store.create_session(state)
    store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message"))
    claim = claimed(store, state.session_id)
    store.commit(claim, *step(claim, consumed=["m-1"]))
    clock.advance(store.settings.idempotency_ttl_seconds + 1)
    again = store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message"))
    assert (again.new, again.status) == (True, "in_progress")


def test_lease_is_exclusive_until_it_expires(store: MongoSessionStore, clock: FakeClock) -> None:
    state = new_state()
    store.create_session(state)
    first = claimed(store, state.session_id, "w1", lease=30)
    refused = store.claim(TENANT, state.session_id, "w2", 30)
    assert isinstance(refused, ClaimRefused) and refused.reason == "leased"
    assert refused.lease_expires_at == first.lease_expires_at
    clock.advance(31)
    second = claimed(store, state.session_id, "w2")
    assert second.version == first.version + 1 and second.token != first.token


def test_commit_after_lease_lost_is_refused_and_writes_nothing(
    store: MongoSessionStore, clock: FakeClock
) -> None:
    state = new_state()
    store.create_session(state)
    store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message"))
    stale = claimed(store, state.session_id, "crashed", lease=10)
    clock.advance(11)
    fresh = claimed(store, state.session_id, "w2")
    before = {name: list(store.db[name].find()) for name in store.db.list_collection_names()}

    with pytest.raises(LeaseLost):
        store.commit(stale, *step(stale, n_messages=2, n_events=2, n_usage=1, consumed=["m-1"]))

    # Every collection as it was, but for the stale step's document, written before its compare-and-set
    # failed: above the session's step count, so nobody reads it (the transcript, the events, the inputs).
    after = {name: list(store.db[name].find()) for name in store.db.list_collection_names()}
    orphans = after.pop("steps", [])
    assert after == {k: v for k, v in before.items() if k != "steps"} and before.get("steps", []) == []
    assert [o["token"] for o in orphans] == [stale.token]
    assert (
        store.history(TENANT, state.session_id) == []
        and store.events_after(TENANT, state.session_id, 0) == []
    )
    # The current holder is unaffected: its commit of the same step number replaces the orphan.
    assert store.commit(fresh, *step(fresh)).message_count == 2
    assert [s["token"] for s in store.steps.find({"session_id": state.session_id})] == [fresh.token]
    assert [m.content for m in store.history(TENANT, state.session_id)] == ["reply 0", "reply 1"]


def test_release_frees_the_lease_and_a_released_claim_cannot_commit(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    assert store.release(claim) is True
    assert store.release(claim) is False  # the lease is gone: nothing left to release
    with pytest.raises(LeaseLost):
        store.commit(claim, *step(claim))
    assert store.history(TENANT, state.session_id) == []
    assert isinstance(store.claim(TENANT, state.session_id, "w2"), Claim)


def test_malformed_step_is_rejected_before_writing(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    next_state, messages, events, usage, consumed = step(claim)
    gap = AgentMessage(session_id=claim.session_id, seq=5, agent="a", content="x", turn=1)
    with pytest.raises(ValueError, match="numbering"):
        store.commit(claim, next_state, messages, [gap], usage, consumed)
    with pytest.raises(ValueError, match="does not follow"):
        store.commit(claim, next_state, [messages[1], messages[0]], events, usage, consumed)
    assert store.messages.count_documents({}) == 0 and store.events.count_documents({}) == 0
    assert store.commit(claim, next_state, messages, events, usage, consumed).version == claim.version + 1


def test_cancel_flag_is_seen_by_the_next_claim(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    assert claim.cancel_requested is False
    store.request_cancel(TENANT, state.session_id)
    # A cancel during a step does not break the step's commit.
    store.commit(claim, *step(claim))
    claim2 = claimed(store, state.session_id)
    assert claim2.cancel_requested is True
    done = step(claim2)
    store.commit(claim2, done[0].model_copy(update={"status": SessionStatus.cancelled}), *done[1:])
    refused = store.claim(TENANT, state.session_id, "w3")
    assert isinstance(refused, ClaimRefused) and refused.reason == "finished"


def test_events_replay_and_history_pages(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    for _ in range(3):
        claim = claimed(store, state.session_id)
        store.commit(claim, *step(claim, n_messages=2, n_events=3))
    assert [e.seq for e in store.events_after(TENANT, state.session_id, 4)] == [5, 6, 7, 8, 9]
    assert [e.seq for e in store.events_after(TENANT, state.session_id, 4, limit=2)] == [5, 6]
    assert store.events_after(TENANT, state.session_id, 9) == []
    assert [m.seq for m in store.history(TENANT, state.session_id, after_seq=1, limit=3)] == [2, 3, 4]


def test_connections(store: MongoSessionStore, clock: FakeClock) -> None:
    sessions = [new_state() for _ in range(3)]
    for s in sessions:
        store.create_session(s)
    store.put_connection("c-1", TENANT, endpoint="https://abc.execute-api.eu-west-1.amazonaws.com/prod")
    store.put_connection("c-2", TENANT, ttl_seconds=5)
    conn = store.get_connection("c-1")
    assert conn is not None and conn.tenant == TENANT and conn.session_ids == []
    assert conn.endpoint == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    for s in sessions:
        store.subscribe(TENANT, "c-1", s.session_id)
    store.subscribe(TENANT, "c-1", sessions[0].session_id)  # already there: not duplicated
    store.subscribe(TENANT, "c-2", sessions[0].session_id)
    assert store.get_connection("c-1").session_ids == [s.session_id for s in sessions]  # type: ignore[union-attr]
    assert sorted(store.live_connections(TENANT, sessions[0].session_id)) == ["c-1", "c-2"]
    clock.advance(6)
    assert store.live_connections(TENANT, sessions[0].session_id) == ["c-1"]
    assert store.get_connection("c-2") is None
    store.delete_connection("c-1")
    assert store.get_connection("c-1") is None
    assert store.live_connections(TENANT, sessions[0].session_id) == []


def test_a_connection_whose_token_expired_gets_no_events_and_is_listed_for_closing(
    store: MongoSessionStore, clock: FakeClock
) -> None:
    from datetime import timedelta

    state = new_state()
    store.create_session(state)
    soon = store.now() + timedelta(seconds=30)
    store.put_connection("c-short", TENANT, token_expires_at=soon)
    store.put_connection("c-long", TENANT, token_expires_at=soon + timedelta(hours=1))
    store.put_connection("c-none", TENANT)  # written before connections kept their token's expiry
    for cid in ("c-short", "c-long", "c-none"):
        store.subscribe(TENANT, cid, state.session_id)
    assert sorted(store.live_connections(TENANT, state.session_id)) == ["c-long", "c-none", "c-short"]
    assert store.expired_connections() == []
    clock.advance(31)
    assert sorted(store.live_connections(TENANT, state.session_id)) == ["c-long", "c-none"]
    expired = store.expired_connections()
    assert [c.connection_id for c in expired] == ["c-short"]
    # The record is still readable: $default can tell an expired token from an unknown connection.
    record = store.get_connection("c-short")
    assert record is not None and record.token_expired(store.now()) and record.token_expires_at == soon
    store.delete_connection("c-short")
    assert store.expired_connections() == []


def test_subscriptions_are_bounded(store: MongoSessionStore) -> None:
    store.put_connection("c-1", TENANT)
    ids = []
    for _ in range(store.settings.max_subscriptions + 3):
        s = new_state()
        store.create_session(s)
        store.subscribe(TENANT, "c-1", s.session_id)
        ids.append(s.session_id)
    assert store.get_connection("c-1").session_ids == ids[-store.settings.max_subscriptions :]  # type: ignore[union-attr]


def test_ensure_indexes_is_idempotent_and_applies_retention(store: MongoSessionStore) -> None:
    store.ensure_indexes()
    assert "ttl_created_at" not in store.events.index_information()
    assert store.connections.index_information()["ttl_expires_at"]["expireAfterSeconds"] == 0
    store.settings = store.settings.model_copy(update={"event_retention_seconds": 86400})
    store.ensure_indexes()
    store.ensure_indexes()
    assert store.events.index_information()["ttl_created_at"]["expireAfterSeconds"] == 86400
    store.settings = store.settings.model_copy(update={"event_retention_seconds": None})
    store.ensure_indexes()
    assert "ttl_created_at" not in store.events.index_information()

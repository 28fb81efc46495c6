"""What the store keeps for delivery guarantees: inputs keyed per session with payload hashes, refused inputs
giving their msg_id back, the outbox written with the commit, the session's alarm, the lease heartbeat and
receipt, and usage written call by call."""

from __future__ import annotations

import json

from runtime_core.session import UserInput
from runtime_core.store import Claim, MongoSessionStore
from runtime_core.store.protocol import NextStep, Outbox
from tests.store.scenario import TENANT, FakeClock, new_state, step


def claimed(
    store: MongoSessionStore, session_id: str, lease: float = 30, receipt: str | None = None
) -> Claim:
    result = store.claim(TENANT, session_id, "w1", lease, receipt=receipt)
    assert isinstance(result, Claim), result
    return result


def message(input_id: str, text: str = "hi") -> UserInput:
    return UserInput(input_id=input_id, kind="message", text=text)


def test_a_msg_id_is_scoped_to_its_session(store: MongoSessionStore) -> None:
    first, second = new_state(), new_state()
    store.create_session(first)
    store.create_session(second)
    assert store.record_input(TENANT, first.session_id, message("m-0001"), "h1").new
    # Frontends number messages per chat: the same id in another session is another input.
    assert store.record_input(TENANT, second.session_id, message("m-0001"), "h2").new
    found = store.find_input(TENANT, second.session_id, "m-0001")
    assert found is not None and found.payload_hash == "h2" and found.status == "in_progress"
    again = store.record_input(TENANT, first.session_id, message("m-0001", "other"), "h9")
    assert not again.new and again.payload_hash == "h1"
    assert store.find_input(TENANT, first.session_id, "m-0404") is None


def test_a_refused_input_gives_its_msg_id_back(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    store.record_input(TENANT, state.session_id, message("m-1", "wrong"), "h-wrong")
    claim = claimed(store, state.session_id)
    next_state, msgs, events, usage, _ = step(claim)
    store.commit(claim, next_state, msgs, events, usage, [], refused_input_ids=["m-1"])
    refused = store.find_input(TENANT, state.session_id, "m-1")
    assert refused is not None and refused.status == "refused"
    corrected = store.record_input(TENANT, state.session_id, message("m-1", "right"), "h-right")
    assert corrected.new and corrected.status == "in_progress" and corrected.payload_hash == "h-right"
    pending = claimed(store, state.session_id).pending_inputs
    assert [(p.input_id, p.text) for p in pending] == [("m-1", "right")]


def test_inputs_recorded_by_schema_v1_are_still_found_and_consumed(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    # A session document as store schema 1 wrote it: no pending list, no step count.
    store.sessions.update_one(
        {"_id": state.session_id},
        {
            "$unset": {
                f: "" for f in ("pending", "store_schema", "step_count", "legacy_messages", "legacy_events")
            }
        },
    )
    legacy_key = json.dumps([TENANT.app_id, TENANT.user_id, "m-old"], separators=(",", ":"))
    store.inputs.insert_one(
        {
            "_id": legacy_key,
            "app_id": TENANT.app_id,
            "user_id": TENANT.user_id,
            "session_id": state.session_id,
            "input_id": "m-old",
            "seq": 1,
            "status": "in_progress",
            "input": message("m-old").model_dump(mode="python"),
            "created_at": store.now(),
        }
    )
    assert not store.record_input(TENANT, state.session_id, message("m-old"), "h").new
    claim = claimed(store, state.session_id)
    assert [p.input_id for p in claim.pending_inputs] == ["m-old"]
    next_state, msgs, events, usage, _ = step(claim)
    store.commit(claim, next_state, msgs, events, usage, ["m-old"])
    found = store.find_input(TENANT, state.session_id, "m-old")
    assert found is not None and found.status == "completed"
    # The commit moved the session to schema 2: its pending list now lives in the session document.
    assert store.sessions.find_one({"_id": state.session_id})["pending"] == []  # type: ignore[index]


def test_the_commit_writes_its_outbox_and_alarm_in_the_same_write(
    store: MongoSessionStore, clock: FakeClock
) -> None:
    state = new_state()
    store.create_session(state)
    header = store.header(TENANT, state.session_id)
    # A new session is due after the grace period: if its start step is lost, the sweeper starts it.
    assert header.due_at is not None and header.outbox is None
    claim = claimed(store, state.session_id)
    assert store.header(TENANT, state.session_id).due_at == claim.lease_expires_at
    next_state, msgs, events, usage, _ = step(claim)
    outbox = Outbox(
        id=claim.token,
        post_after=0,
        post_to=next_state.last_event_seq,
        next=NextStep(reason="continue", dedup_id="p2.2"),
    )
    store.commit(claim, next_state, msgs, events, usage, [], outbox=outbox)
    header = store.header(TENANT, state.session_id)
    assert header.outbox == outbox and header.lease_expires_at is None
    # The process that committed may die now: the next claim finds what it owed.
    assert claimed(store, state.session_id).outbox == outbox


def test_finishing_an_outbox_clears_only_that_outbox(store: MongoSessionStore, clock: FakeClock) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    next_state, msgs, events, usage, _ = step(claim)
    outbox = Outbox(id=claim.token, post_after=0, post_to=2, next=None)
    store.commit(claim, next_state, msgs, events, usage, [], outbox=outbox)
    assert not store.finish_outbox(TENANT, state.session_id, "another-step", due_in=None)
    assert store.header(TENANT, state.session_id).outbox == outbox
    assert store.finish_outbox(TENANT, state.session_id, claim.token, due_in=None)
    header = store.header(TENANT, state.session_id)
    assert header.outbox is None and header.due_at is None


def test_due_sessions_are_those_whose_alarm_passed(store: MongoSessionStore, clock: FakeClock) -> None:
    quiet, stuck = new_state(), new_state()
    store.create_session(quiet)
    store.create_session(stuck)
    store.snooze(quiet.session_id, None)
    assert store.due_sessions() == []
    clock.advance(store.recovery_grace_seconds + 1)
    due = store.due_sessions()
    assert [d.session_id for d in due] == [stuck.session_id] and due[0].tenant == TENANT


def test_the_heartbeat_keeps_a_lease_and_the_receipt_is_kept_with_it(
    store: MongoSessionStore, clock: FakeClock
) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id, lease=30, receipt="receipt-1")
    for _ in range(4):
        clock.advance(20)
        assert store.renew(claim, 30)
    # 80 s after the claim, a 30 s lease renewed every 20 s still holds: no one else can take the session.
    assert store.claim(TENANT, state.session_id, "w2", 30).reason == "leased"  # type: ignore[union-attr]
    header = store.header(TENANT, state.session_id)
    assert header.receipt == "receipt-1" and header.due_at == header.lease_expires_at
    # Without beats the lease runs out, and the session is due at once.
    clock.advance(31)
    assert [d.receipt for d in store.due_sessions()] == ["receipt-1"]
    takeover = claimed(store, state.session_id)
    assert not store.renew(claim, 30)  # the old step's heartbeat learns it lost the session
    assert takeover.version == claim.version + 1


def test_a_released_claim_sets_the_alarm_as_asked(store: MongoSessionStore, clock: FakeClock) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    assert store.release(claim, due_in=5)
    header = store.header(TENANT, state.session_id)
    assert header.lease_expires_at is None and header.due_at is not None
    claim = claimed(store, state.session_id)
    assert store.release(claim, due_in=None)
    assert store.header(TENANT, state.session_id).due_at is None


def test_usage_is_written_once_per_call_key(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    _, _, _, usage, _ = step(claim, n_usage=1)
    assert store.record_usage(TENANT, usage[0], key=f"{claim.token}:1")
    assert not store.record_usage(TENANT, usage[0], key=f"{claim.token}:1")
    assert store.usage.count_documents({"session_id": state.session_id}) == 1
    next_state, msgs, events, usage, _ = step(claim, n_usage=1)
    # The commit of a step whose calls were written as they happened does not write them again.
    store.commit(claim, next_state, msgs, events, usage, [], usage_recorded=True)
    assert store.usage.count_documents({"session_id": state.session_id}) == 1


def test_a_call_is_noted_before_it_goes_out_and_completed_when_it_returns(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    claim = claimed(store, state.session_id)
    _, _, _, usage, _ = step(claim, n_usage=2)
    store.record_usage_start(TENANT, state.session_id, "k:1", "triage", "reply")
    assert store.record_usage(TENANT, usage[0], key="k:1")
    # The second call went out; its process died before the answer: the ledger still has it, tokens unknown.
    store.record_usage_start(TENANT, state.session_id, "k:2", "triage", "reply")
    rows = {d["_id"]: d for d in store.usage.find({"session_id": state.session_id})}
    assert rows["k:1"]["status"] == "done" and rows["k:1"]["prompt_tokens"] == 10
    assert rows["k:2"]["status"] == "started" and "prompt_tokens" not in rows["k:2"]
    assert not store.record_usage(TENANT, usage[0], key="k:1")  # written once
    assert store.usage.count_documents({"session_id": state.session_id}) == 2

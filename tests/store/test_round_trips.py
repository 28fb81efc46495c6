"""Constant cost per step: claim + commit take the same number of commands at any history length."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from runtime_core.session import UserInput
from runtime_core.store import Claim, MongoSessionStore, StoreSettings
from tests.store.scenario import TENANT, CommandCounter, FakeClock, new_state, step


@pytest.fixture
def counted(
    mongo_uri: str, db_name: str, clock: FakeClock
) -> Iterator[tuple[MongoSessionStore, CommandCounter]]:
    counter = CommandCounter()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True, event_listeners=[counter])
    store = MongoSessionStore(client, StoreSettings(db_name=db_name), clock=clock)
    store.ensure_indexes()
    yield store, counter
    client.drop_database(db_name)
    client.close()


def grow(store: MongoSessionStore, session_id: str, to: int) -> None:
    """Commit history in large steps (one insert_many each) until the session holds ``to`` messages."""
    while (count := store.sessions.find_one({"_id": session_id})["message_count"]) < to:  # type: ignore[index]
        claim = store.claim(TENANT, session_id, "seed", 60)
        assert isinstance(claim, Claim)
        store.commit(claim, *step(claim, n_messages=min(2000, to - count), n_events=1, n_usage=0))


def one_step(store: MongoSessionStore, counter: CommandCounter, session_id: str, n: int) -> list[str]:
    store.record_input(TENANT, session_id, UserInput(input_id=f"in-{n}", kind="message", text="hi"))
    counter.commands.clear()
    claim = store.claim(TENANT, session_id, "worker", 60)
    assert isinstance(claim, Claim)
    store.commit(claim, *step(claim, n_messages=2, n_events=3, n_usage=1, consumed=[f"in-{n}"]))
    return list(counter.commands)


def test_claim_and_commit_commands_do_not_grow_with_history(
    counted: tuple[MongoSessionStore, CommandCounter],
) -> None:
    store, counter = counted
    state = new_state()
    store.create_session(state)
    grow(store, state.session_id, 10)
    at_10 = one_step(store, counter, state.session_id, 10)
    grow(store, state.session_id, 1000)
    at_1000 = one_step(store, counter, state.session_id, 1000)
    assert at_10 == at_1000
    assert "getMore" not in at_1000
    # claim: CAS + messages + pending inputs; commit: CAS, messages, events, usage, inputs, commit; rollup.
    assert len(at_1000) == 10, at_1000


def test_a_ten_thousand_message_session_works(counted: tuple[MongoSessionStore, CommandCounter]) -> None:
    store, counter = counted
    state = new_state()
    store.create_session(state)
    grow(store, state.session_id, 10_000)
    commands = one_step(store, counter, state.session_id, 1)
    assert len(commands) == 10 and "getMore" not in commands
    claim = store.claim(TENANT, state.session_id, "reader", 60)
    assert isinstance(claim, Claim)
    assert [m.seq for m in claim.state.messages] == list(range(10_002))
    assert store.history(TENANT, state.session_id, after_seq=9_990, limit=5)[0].seq == 9_991
    biggest = max(len(str(d)) for d in store.sessions.find({"_id": state.session_id}))
    assert biggest < 10_000  # the session document holds no history

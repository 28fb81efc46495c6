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
    """Commit history in large steps (one step document each) until the session holds ``to`` messages."""
    while (count := store.sessions.find_one({"_id": session_id})["message_count"]) < to:  # type: ignore[index]
        claim = store.claim(TENANT, session_id, "seed", 60)
        assert isinstance(claim, Claim)
        store.commit(claim, *step(claim, n_messages=min(2000, to - count), n_events=1, n_usage=0))


def one_step(
    store: MongoSessionStore, counter: CommandCounter, session_id: str, n: int
) -> tuple[list[str], int]:
    """A worker's step: claim, commit (usage was written as the calls happened). Commands, reply bytes."""
    store.record_input(TENANT, session_id, UserInput(input_id=f"in-{n}", kind="message", text="hi"))
    counter.clear()
    claim = store.claim(TENANT, session_id, "worker", 60)
    assert isinstance(claim, Claim)
    next_state, messages, events, usage, consumed = step(claim, 2, 3, 1, consumed=[f"in-{n}"])
    store.commit(claim, next_state, messages, events, usage, consumed, usage_recorded=True)
    return list(counter.commands), counter.reply_bytes


def test_a_warm_step_is_three_round_trips_and_reads_the_same_bytes_at_any_length(
    counted: tuple[MongoSessionStore, CommandCounter],
) -> None:
    store, counter = counted
    state = new_state()
    store.create_session(state)
    grow(store, state.session_id, 10)
    at_10, read_10 = one_step(store, counter, state.session_id, 10)
    grow(store, state.session_id, 1000)
    at_1000, read_1000 = one_step(store, counter, state.session_id, 1000)
    # claim: one findAndModify (the header, its pending inputs; the transcript is in this container's memory);
    # commit: the step document, the header's compare-and-set.
    assert at_10 == at_1000 == ["findAndModify", "insert", "update"]
    # The same bytes but for the input ids' lengths (in-10, in-1000): nothing grows with the history.
    assert abs(read_1000 - read_10) < 16 and read_1000 < 4_000


def test_a_cold_step_reads_the_transcript_once(
    counted: tuple[MongoSessionStore, CommandCounter], mongo_uri: str
) -> None:
    store, counter = counted
    state = new_state()
    store.create_session(state)
    grow(store, state.session_id, 1000)
    # A new container: its store has not seen the session.
    cold = MongoSessionStore(store.client, store.settings, clock=store._clock)
    commands, _ = one_step(cold, counter, state.session_id, 1)
    assert commands == ["findAndModify", "find", "insert", "update"]
    # Back to warm: the next step in that container reads no message.
    assert one_step(cold, counter, state.session_id, 2)[0] == ["findAndModify", "insert", "update"]


def test_a_ten_thousand_message_session_works(counted: tuple[MongoSessionStore, CommandCounter]) -> None:
    store, counter = counted
    state = new_state()
    store.create_session(state)
    grow(store, state.session_id, 10_000)
    commands, _ = one_step(store, counter, state.session_id, 1)
    assert len(commands) == 3 and "getMore" not in commands
    cold = MongoSessionStore(store.client, store.settings, clock=store._clock)
    counter.clear()
    claim = cold.claim(TENANT, state.session_id, "reader", 60)
    assert isinstance(claim, Claim)
    assert counter.commands == ["findAndModify", "find"]  # the whole history in one read
    assert [m.seq for m in claim.state.messages] == list(range(10_002))
    assert store.history(TENANT, state.session_id, after_seq=9_990, limit=5)[0].seq == 9_991
    biggest = max(len(str(d)) for d in store.sessions.find({"_id": state.session_id}))
    assert biggest < 10_000  # the session document holds no history

"""Racing claimers: exactly one wins each round, in threads and in separate processes."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from runtime_core.session import UserInput
from runtime_core.store import Claim, LeaseLost, MongoSessionStore
from tests.store.claimer import try_claim
from tests.store.scenario import TENANT, new_state, step


def test_threads_race_one_winner_per_round(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    workers = 6
    barrier = threading.Barrier(workers)

    def attempt(owner: str) -> Claim | None:
        barrier.wait()
        result = store.claim(TENANT, state.session_id, owner, 60)
        return result if isinstance(result, Claim) else None

    with ThreadPoolExecutor(workers) as pool:
        for round_ in range(5):
            results = list(pool.map(attempt, [f"t{round_}-{i}" for i in range(workers)]))
            winners = [r for r in results if r is not None]
            assert len(winners) == 1, [r.owner for r in winners]
            store.commit(winners[0], *step(winners[0]))
    assert store.get_session(TENANT, state.session_id).turn == 5
    assert len(store.history(TENANT, state.session_id)) == 10


def test_processes_race_one_winner_per_round(store: MongoSessionStore, mongo_uri: str) -> None:
    state = new_state()
    store.create_session(state)
    # spawn, not fork: the parent runs the embedded server's thread.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(3, mp_context=context) as pool:
        for round_ in range(3):
            owners = [f"p{round_}-{i}" for i in range(3)]
            results = list(
                pool.map(
                    try_claim, [mongo_uri] * 3, [store.settings.db_name] * 3, [state.session_id] * 3, owners
                )
            )
            winners = [owner for owner, token in results if token is not None]
            assert len(winners) == 1, results
            doc = store.sessions.find_one({"_id": state.session_id})
            assert doc is not None and doc["lease"]["owner"] == winners[0]
            store.sessions.update_one({"_id": state.session_id}, {"$set": {"lease": None}})


def test_the_same_claim_committed_twice_at_once_stores_the_step_once(store: MongoSessionStore) -> None:
    """A redelivered or retried commit (e.g. after an unknown commit outcome) is stored exactly once."""
    state = new_state()
    store.create_session(state)
    store.record_input(TENANT, state.session_id, UserInput(input_id="m-1", kind="message"))
    claim = store.claim(TENANT, state.session_id, "w1", 60)
    assert isinstance(claim, Claim)
    barrier = threading.Barrier(2)

    def commit(_: int) -> str:
        barrier.wait()
        try:
            store.commit(claim, *step(claim, consumed=["m-1"]))
            return "ok"
        except LeaseLost:
            return "lost"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(commit, range(2)))
    assert outcomes == ["ok", "ok"]
    assert len(store.history(TENANT, state.session_id)) == 2
    assert len(store.events_after(TENANT, state.session_id, 0)) == 2
    assert store.usage.count_documents({"session_id": state.session_id}) == 1
    assert store.get_session(TENANT, state.session_id).turn == 1


def test_same_input_recorded_concurrently_gives_one_input(store: MongoSessionStore) -> None:
    state = new_state()
    store.create_session(state)
    barrier = threading.Barrier(10)

    def record(_: int) -> bool:
        barrier.wait()
        return store.record_input(TENANT, state.session_id, UserInput(input_id="dup", kind="message")).new

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(record, range(10)))
    assert sorted(outcomes) == [False] * 9 + [True]
    claim = store.claim(TENANT, state.session_id, "w1")
    assert isinstance(claim, Claim) and [i.input_id for i in claim.pending_inputs] == ["dup"]

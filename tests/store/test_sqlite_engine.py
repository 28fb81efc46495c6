"""The SQLite engine ``mozaiks serve`` stores sessions in by default (``LocalSQLiteEngine``).

Its overrides of mongoeco's ``SQLiteEngine`` remove work that grew with the data; they must not change what
any query answers. So:

- the store contract (the tests of ``test_contract``, ``test_concurrency``, ``test_delivery_records``,
  ``test_tenancy``, ``test_round_trips``), which conftest runs on the memory engine, runs here again on this
  engine (``mongo_uri`` below replaces conftest's);
- the SQLite work of a session's store calls is counted (SQLite VM instructions, not time) at two data sizes:
  it must not grow with the number of stored sessions;
- the shortcuts that answer "no document has X" (a tagged decimal, an array at a path) are checked against
  documents that do have X: written after the engine started, or by a previous process.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from pymongo import MongoClient

import tests.store.test_concurrency as concurrency
import tests.store.test_contract as contract
import tests.store.test_delivery_records as delivery_records
import tests.store.test_round_trips as round_trips
import tests.store.test_tenancy as tenancy
from runtime_core.session import UserInput
from runtime_core.store import Claim, MongoSessionStore, StoreSettings, start_embedded
from runtime_core.store.embedded import EmbeddedServer, connect
from runtime_core.store.local_sqlite import sqlite_engine_class
from tests.store.scenario import TENANT, new_state, step
from tests.store.test_round_trips import counted  # noqa: F401 - a fixture of the tests taken below
from tests.store.test_tenancy import owned  # noqa: F401 - a fixture of the tests taken below

for _module in (contract, concurrency, delivery_records, tenancy, round_trips):
    globals().update({name: test for name, test in vars(_module).items() if name.startswith("test_")})


@pytest.fixture(scope="module")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The contract tests above on a SQLite file, as ``mozaiks serve`` runs them."""
    server = start_embedded("sqlite", path=tmp_path_factory.mktemp("contract") / "store.sqlite3")
    try:
        yield server.uri
    finally:
        server.stop()


class VmCounter:
    """SQLite VM instructions run on every connection the engine opens (a progress handler every 100)."""

    def __init__(self) -> None:
        self.ticks = 0
        self._lock = threading.Lock()

    def tick(self) -> int:
        with self._lock:
            self.ticks += 1
        return 0  # go on

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine_class = sqlite_engine_class()
        create = engine_class._create_sqlite_connection

        def with_handler(engine: Any) -> sqlite3.Connection:
            connection: sqlite3.Connection = create(engine)
            connection.set_progress_handler(self.tick, 100)
            return connection

        monkeypatch.setattr(engine_class, "_create_sqlite_connection", with_handler)


def session_calls(store: MongoSessionStore, steps: int = 2) -> None:
    """A session's store calls in ``mozaiks serve``: connect, start, then per turn an input, a claim, the
    usage notes, the commit, and the reads the routes do; disconnect."""
    state = new_state()
    sid, connection = state.session_id, f"c-{uuid.uuid4().hex[:8]}"
    store.put_connection(connection, TENANT)
    store.create_session(state)
    store.subscribe(TENANT, connection, sid)
    for turn in range(steps):
        user_input = UserInput(input_id=f"m{turn}", kind="message", text="hello")
        assert store.find_input(TENANT, sid, user_input.input_id) is None
        store.record_input(TENANT, sid, user_input, "hash")
        claim = store.claim(TENANT, sid, "worker")
        assert isinstance(claim, Claim), claim
        key = f"{sid}/{turn}"
        store.record_usage_start(TENANT, sid, key, "triage", "reply")
        next_state, messages, events, usage, _ = step(claim, n_messages=2, n_events=6, n_usage=1)
        store.record_usage(TENANT, usage[0], key)
        store.commit(claim, next_state, messages, events, usage, [user_input.input_id], usage_recorded=True)
        store.header(TENANT, sid)
        store.live_connections(TENANT, sid)
        assert store.get_connection(connection) is not None
    store.delete_connection(connection)  # the socket's $disconnect


def test_a_sessions_sqlite_work_does_not_grow_with_the_stored_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = VmCounter()
    counter.install(monkeypatch)
    server = start_embedded("sqlite", path=tmp_path / "store.sqlite3")
    store = MongoSessionStore(connect(server.uri), StoreSettings(), on_close=server.stop)
    try:
        store.ensure_indexes()

        def measured() -> int:
            before = counter.ticks
            session_calls(store)
            return counter.ticks - before

        for _ in range(10):
            session_calls(store)
        measured()  # the first session of a kind of query also does the engine's once-per-field checks
        small = measured()
        for _ in range(60):
            session_calls(store)
        large = measured()
    finally:
        store.close()
    # 11 vs 72 stored sessions: a scan of a collection per call would make ``large`` about 6 times ``small``
    # (mongoeco 4.11's own engine: 4.6 times, measured); an indexed lookup keeps them level.
    assert large < 1.5 * small, (small, large)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = start_embedded("sqlite", path=tmp_path / "store.sqlite3")
    yield server
    server.stop()


def collection(server: EmbeddedServer) -> Any:
    client: MongoClient[dict[str, Any]] = connect(server.uri)
    return client["engine_test"]["things"]


def test_a_decimal_written_after_start_is_compared_as_a_number(sqlite_server: EmbeddedServer) -> None:
    things = collection(sqlite_server)
    things.insert_many([{"_id": f"n{i}", "v": i} for i in range(3)])
    # Planned while no decimal exists anywhere: the engine may compare in SQL.
    assert sorted(d["_id"] for d in things.find({"v": {"$gt": 1}})) == ["n2"]
    things.insert_one({"_id": "d1", "v": Decimal128("10.5")})
    things.update_one({"_id": "n0"}, {"$set": {"v": Decimal128("7")}})
    assert sorted(d["_id"] for d in things.find({"v": {"$gt": 1}})) == ["d1", "n0", "n2"]
    assert [d["_id"] for d in things.find({"v": {"$lt": 8}, "_id": "n0"})] == ["n0"]


def test_an_array_written_after_start_is_matched_by_its_elements(sqlite_server: EmbeddedServer) -> None:
    things = collection(sqlite_server)
    things.insert_many([{"_id": "s1", "tags": "red", "meta": {"k": "a"}}, {"_id": "s2", "tags": "blue"}])
    assert [d["_id"] for d in things.find({"tags": "red"})] == ["s1"]
    assert [d["_id"] for d in things.find({"meta.k": "a"})] == ["s1"]
    things.insert_one({"_id": "a1", "tags": ["green", "red"], "meta": [{"k": "b"}]})
    things.update_one({"_id": "s2"}, {"$set": {"tags": ["blue", "green"]}})
    assert sorted(d["_id"] for d in things.find({"tags": "red"})) == ["a1", "s1"]
    assert sorted(d["_id"] for d in things.find({"tags": "green"})) == ["a1", "s2"]
    assert [d["_id"] for d in things.find({"meta.k": "b"})] == ["a1"]
    assert [d["_id"] for d in things.find({"_id": "a1", "tags": "green"})] == ["a1"]


def test_arrays_and_decimals_stored_by_a_previous_process_are_found(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    first = start_embedded("sqlite", path=path)
    try:
        collection(first).insert_many(
            [{"_id": "a", "tags": ["x", "y"], "v": Decimal128("3.5")}, {"_id": "b", "tags": "z", "v": 1}]
        )
    finally:
        first.stop()
    again = start_embedded("sqlite", path=path)
    try:
        things = collection(again)
        assert [d["_id"] for d in things.find({"tags": "y"})] == ["a"]
        assert sorted(d["_id"] for d in things.find({"v": {"$gt": 2}})) == ["a"]
    finally:
        again.stop()


def test_id_pinned_queries_sql_cannot_express_answer_as_on_the_memory_engine(
    sqlite_server: EmbeddedServer,
) -> None:
    """``pending.input_id: {$ne}`` and ``pending.N: {$exists}`` are evaluated in Python; with ``_id`` pinned
    only that row is read. Each update's outcome must be the memory engine's."""
    memory = start_embedded("memory")
    try:
        engines = [collection(sqlite_server), collection(memory)]
        for things in engines:
            things.insert_many([{"_id": "s1", "pending": [{"input_id": "a"}]}, {"_id": "s2", "pending": []}])
        filters: list[dict[str, Any]] = [
            {"_id": "s1", "pending.input_id": {"$ne": "a"}},
            {"_id": "s1", "pending.input_id": {"$ne": "b"}, "pending.1": {"$exists": False}},
            {"_id": "s2", "pending.input_id": {"$ne": "a"}, "pending.0": {"$exists": False}},
            {"_id": {"$in": ["s1", "s2"]}, "pending.0.input_id": "a"},
            {"_id": "s3", "pending.input_id": {"$ne": "a"}},
            {"_id": "s1", "$or": [{"pending": {"$size": 0}}, {"pending.input_id": "a"}]},
        ]
        outcomes = []
        for things in engines:
            outcomes.append(
                [
                    (
                        things.update_one(f, {"$push": {"pending": {"input_id": "n"}}}).matched_count,
                        *sorted(d["_id"] for d in things.find(f)),
                    )
                    for f in filters
                ]
            )
            outcomes[-1].append(tuple(sorted((d["_id"], len(d["pending"])) for d in things.find())))
        assert outcomes[0] == outcomes[1]
    finally:
        memory.stop()


def test_the_serve_engine_is_the_local_sqlite_engine(sqlite_server: EmbeddedServer) -> None:
    assert isinstance(sqlite_server.engine, sqlite_engine_class())
    # No change outbox rows: delivery is in process (nothing reads the durable outbox).
    things = collection(sqlite_server)
    for i in range(5):
        things.insert_one({"_id": f"x{i}"})
        things.update_one({"_id": f"x{i}"}, {"$set": {"n": i}})
    database = sqlite3.connect(sqlite_server.engine._path)
    try:
        assert database.execute("SELECT COUNT(*) FROM change_outbox").fetchone() == (0,)
    finally:
        database.close()

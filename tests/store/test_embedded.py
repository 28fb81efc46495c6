"""The embedded server: SQLite-backed sessions survive a restart; store_from_env picks the database."""

from __future__ import annotations

from pathlib import Path

from runtime_core.store import Claim, MongoSessionStore, StoreSettings, start_embedded, store_from_env
from runtime_core.store.embedded import connect
from tests.store.scenario import TENANT, new_state, step


def test_sqlite_store_keeps_sessions_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / ".mozaiks" / "store.sqlite3"
    state = new_state()
    server = start_embedded("sqlite", path=path)
    store = MongoSessionStore(connect(server.uri), StoreSettings(), on_close=server.stop)
    store.ensure_indexes()
    store.create_session(state)
    claim = store.claim(TENANT, state.session_id, "w1")
    assert isinstance(claim, Claim)
    store.commit(claim, *step(claim, n_messages=3, n_events=2))
    store.close()

    server = start_embedded("sqlite", path=path)
    store = MongoSessionStore(connect(server.uri), StoreSettings(), on_close=server.stop)
    try:
        again = store.claim(TENANT, state.session_id, "w2")
        assert isinstance(again, Claim)
        assert [m.content for m in again.state.messages] == ["reply 0", "reply 1", "reply 2"]
        assert again.state.turn == 1 and again.state.last_event_seq == 2
        assert [e.seq for e in store.events_after(TENANT, state.session_id, 0)] == [1, 2]
    finally:
        store.close()


def test_store_from_env_uses_mongodb_uri_and_db_name(mongo_uri: str, db_name: str) -> None:
    store = store_from_env({"MONGODB_URI": mongo_uri, "MOZAIKS_DB_NAME": db_name})
    try:
        assert store.db.name == db_name
        assert "ttl_expires_at" in store.connections.index_information()
    finally:
        store.client.drop_database(db_name)
        store.close()


def test_store_from_env_without_uri_starts_the_embedded_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = store_from_env({"MOZAIKS_STORE_PATH": str(path)})
    try:
        store.create_session(new_state())
        assert len(store.list_sessions(TENANT)) == 1
        assert path.exists()
    finally:
        store.close()

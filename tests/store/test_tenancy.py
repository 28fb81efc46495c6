"""Another tenant's session id behaves exactly like a session that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime_core.session import Tenant, UserInput
from runtime_core.store import Claim, ClaimRefused, MongoSessionStore, SessionNotFound
from tests.store.scenario import OTHER, OTHER_APP, TENANT, new_state, step

PROBES: dict[str, Callable[[MongoSessionStore, Tenant, str], Any]] = {
    "get_session": lambda s, t, sid: s.get_session(t, sid),
    "events_after": lambda s, t, sid: s.events_after(t, sid, 0),
    "history": lambda s, t, sid: s.history(t, sid),
    "request_cancel": lambda s, t, sid: s.request_cancel(t, sid),
    "record_input": lambda s, t, sid: s.record_input(t, sid, UserInput(input_id="probe", kind="message")),
    "subscribe": lambda s, t, sid: s.subscribe(t, "c-x", sid),
}


@pytest.fixture
def owned(store: MongoSessionStore) -> str:
    state = new_state()
    store.create_session(state)
    claim = store.claim(TENANT, state.session_id, "w1")
    assert isinstance(claim, Claim)
    store.commit(claim, *step(claim, n_messages=2, n_events=2))
    return state.session_id


def _outcome(fn: Callable[[], Any]) -> tuple[str, str]:
    try:
        return ("returned", repr(fn()))
    except Exception as error:
        return (type(error).__name__, str(error))


@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("intruder", [OTHER, OTHER_APP], ids=["other-user", "other-app"])
def test_foreign_session_looks_missing(
    store: MongoSessionStore, owned: str, probe: str, intruder: Tenant
) -> None:
    # The intruder has a connection of its own, so only the session can be what is missing.
    store.put_connection("c-x", intruder)
    run = PROBES[probe]
    # A missing session with the same id, seen from a tenant that owns nothing under it.
    missing = _outcome(lambda: run(store, intruder, owned + "-nope"))
    foreign = _outcome(lambda: run(store, intruder, owned))
    assert foreign[0] == "SessionNotFound"
    assert foreign == (missing[0], missing[1].replace("-nope", ""))


def test_foreign_claim_looks_missing_and_leaves_the_session_alone(
    store: MongoSessionStore, owned: str
) -> None:
    before = store.sessions.find_one({"_id": owned})
    for intruder in (OTHER, OTHER_APP):
        assert store.claim(intruder, owned, "evil") == ClaimRefused(reason="not_found")
        assert store.claim(intruder, owned + "-nope", "evil") == ClaimRefused(reason="not_found")
    assert store.sessions.find_one({"_id": owned}) == before
    assert store.inputs.count_documents({}) == 0


def test_foreign_probes_change_nothing(store: MongoSessionStore, owned: str) -> None:
    before = {n: list(store.db[n].find()) for n in ("sessions", "messages", "events", "inputs")}
    for run in PROBES.values():
        with pytest.raises(SessionNotFound):
            run(store, OTHER, owned)
    after = {n: list(store.db[n].find()) for n in ("sessions", "messages", "events", "inputs")}
    assert after == before
    assert store.list_sessions(OTHER) == [] and store.live_connections(OTHER, owned) == []

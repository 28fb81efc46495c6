"""Hostile and broken frames through the real $default handler: each gets one error reply, nothing changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from functions import default
from runtime_core.services import Services, install_services
from tests.functions.conftest import WORKFLOWS, broken_workflow
from tests.functions.harness import Client, LambdaContext, message_event, replies_of, run_queue

OWN = "{own}"
OTHER = "{other}"
PENDING = "{pending}"


def _frame(**fields: Any) -> str:
    return json.dumps(fields)


def _deep(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        data = {"d": data}
    return data


# (frame, expected error code). {own}: the caller's session; {other}: another tenant's; {pending}: the
# request id the caller's session waits for.
CORPUS: list[tuple[str | bytes, str]] = [
    ("", "invalid_json"),
    ("not json", "invalid_json"),
    ("{", "invalid_json"),
    ('{"type": "ping",}', "invalid_json"),
    ("NaN", "invalid_json"),
    ('{"type": "ping", "x": Infinity}', "invalid_json"),
    ("[]", "not_an_object"),
    ('"start"', "not_an_object"),
    ("42", "not_an_object"),
    ("null", "not_an_object"),
    ("true", "not_an_object"),
    ("{}", "missing_type"),
    (_frame(type="strat", workflow="CustomerSupport"), "unknown_type"),
    (_frame(type="START", workflow="CustomerSupport"), "unknown_type"),
    (_frame(type="subscribe", session_id=OWN), "unknown_type"),
    ('{"type": 123}', "invalid_field"),
    ('{"type": "ping", "type": "start"}', "duplicate_key"),
    ("[" * 40 + "]" * 40, "too_deep"),
    (b"\xff\xfe\x00binary", "not_utf8"),
    (_frame(type="ping", pad="x" * 40_000), "frame_too_large"),
    (_frame(type="ping", extra=1), "unexpected_field"),
    (_frame(type="ping", msg_id=5), "invalid_field"),
    # start
    (_frame(type="start"), "missing_field"),
    (_frame(type="start", workflow=""), "invalid_field"),
    (_frame(type="start", workflow="../../etc/passwd"), "invalid_field"),
    (_frame(type="start", workflow=["CustomerSupport"]), "invalid_field"),
    (_frame(type="start", workflow="CustomerSupport", app_id="app-2"), "unexpected_field"),
    (_frame(type="start", workflow="CustomerSupport", user_id="user-2"), "unexpected_field"),
    (_frame(type="start", workflow="CustomerSupport", message=5), "invalid_field"),
    (_frame(type="start", workflow="CustomerSupport", message=True), "invalid_field"),
    (_frame(type="start", workflow="CustomerSupport", message="a\u0000b"), "invalid_field"),
    (_frame(type="start", workflow="CustomerSupport", message="x" * 16_001), "invalid_field"),
    (_frame(type="start", workflow="CustomerSupport", msg_id="bad id!"), "invalid_field"),
    (_frame(type="start", workflow="NoSuchWorkflow"), "unknown_workflow"),
    (_frame(type="start", workflow="CustomerSuport"), "unknown_workflow"),
    (_frame(type="start", workflow="Broken"), "invalid_workflow"),
    (_frame(type="start", workflow=".hidden"), "invalid_field"),
    # user_message
    (_frame(type="user_message", session_id=OWN, msg_id="u-1"), "missing_field"),
    (_frame(type="user_message", session_id=OWN, text="hi"), "missing_field"),
    (_frame(type="user_message", session_id=OWN, msg_id="u-1", text=""), "invalid_field"),
    (_frame(type="user_message", session_id=OWN, msg_id="u-1", text="\u202eevil"), "invalid_field"),
    ('{"type":"user_message","session_id":"' + OWN + '","msg_id":"u-1","text":"\\ud800"}', "invalid_field"),
    (_frame(type="user_message", session_id=OWN, msg_id="u-1", text="hi", extra=True), "unexpected_field"),
    (_frame(type="user_message", session_id=123, msg_id="u-1", text="hi"), "invalid_field"),
    (_frame(type="user_message", session_id="s" * 129, msg_id="u-1", text="hi"), "invalid_field"),
    (_frame(type="user_message", session_id=OTHER, msg_id="u-1", text="hi"), "session_not_found"),
    (
        _frame(type="user_message", session_id="s-does-not-exist", msg_id="u-1", text="hi"),
        "session_not_found",
    ),
    # answer
    (_frame(type="answer", session_id=OWN, msg_id="a-1", request_id=PENDING), "missing_field"),
    (
        _frame(type="answer", session_id=OWN, msg_id="a-1", request_id="req-99", text="yes"),
        "no_pending_request",
    ),
    (
        _frame(type="answer", session_id=OWN, msg_id="a-1", request_id=PENDING, data=_deep(17)),
        "invalid_field",
    ),
    (_frame(type="answer", session_id=OWN, msg_id="a-1", request_id=PENDING, data=[1]), "invalid_field"),
    (
        _frame(type="answer", session_id=OTHER, msg_id="a-1", request_id=PENDING, text="yes"),
        "session_not_found",
    ),
    # resume
    (_frame(type="resume", session_id=OWN, after_seq=-1), "invalid_field"),
    (_frame(type="resume", session_id=OWN, after_seq="3"), "invalid_field"),
    (_frame(type="resume", session_id=OWN, after_seq=1.5), "invalid_field"),
    (_frame(type="resume", session_id=OWN, after_seq=2**53), "invalid_field"),
    (_frame(type="resume", session_id=OWN), "missing_field"),
    (_frame(type="resume", session_id=OTHER, after_seq=0), "session_not_found"),
    (_frame(type="resume", session_id="s-nope", after_seq=0), "session_not_found"),
    # cancel
    (_frame(type="cancel"), "missing_field"),
    (_frame(type="cancel", session_id=OTHER), "session_not_found"),
    (_frame(type="cancel", session_id="s-nope", msg_id="c-1"), "session_not_found"),
    (_frame(type="cancel", session_id=OWN, reason="because"), "unexpected_field"),
]


def _snapshot(store: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        name: sorted(store.db[name].find({}), key=lambda d: str(d["_id"]))
        for name in ("sessions", "messages", "events", "inputs", "usage", "connections")
    }


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    root = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "CustomerSupport", root / "CustomerSupport")
    broken_workflow(root / "Broken")
    return root


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50
    assert len({code for _, code in CORPUS}) >= 15


def test_every_bad_frame_gets_an_error_reply_and_changes_nothing(
    aws: Any, services: Services, store: Any, workflows: Path
) -> None:
    install_services(
        Services(store_factory=lambda: store, queue_factory=services.queue_factory, workflows_dir=workflows)
    )
    mallory = Client(aws, "conn-M", app_id="app-2", user_id="user-2")
    mallory.connect()
    other = replies_of(mallory.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "x-1"}))[0]
    alice = Client(aws, "conn-A")
    alice.connect()
    own = replies_of(alice.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1"}))[0]
    run_queue(aws)
    pending = next(m for m in alice.poll() if m.get("type") == "input_request")["request"]["request_id"]

    before = _snapshot(store)
    depth = aws.depth()
    named = 0
    for raw, code in CORPUS:
        if isinstance(raw, str):
            raw = raw.replace(OWN, own["session_id"]).replace(OTHER, other["session_id"])
            raw = raw.replace(PENDING, pending)
        replies = alice.send(raw)
        assert len(replies) == 1, raw
        reply = replies[0]
        assert reply["type"] == "error" and reply["code"] == code, (raw[:120], reply)
        assert reply["message"]
        assert "seq" not in reply
        named_own = isinstance(raw, str) and f'"session_id": "{own["session_id"]}"' in raw
        if named_own and code != "frame_too_large":
            # Whatever was wrong with it, a frame that named its session well gets the session back.
            assert reply["session_id"] == own["session_id"], (raw[:120], reply)
            named += 1
    assert named >= 15
    assert _snapshot(store) == before
    assert aws.depth() == depth


def test_another_tenants_session_looks_exactly_like_a_missing_one(aws: Any, services: Any) -> None:
    mallory = Client(aws, "conn-M", app_id="app-2", user_id="user-2")
    mallory.connect()
    theirs = replies_of(mallory.send({"type": "start", "workflow": "CustomerSupport"}))[0]["session_id"]
    alice = Client(aws, "conn-A")
    alice.connect()
    for session_id in (theirs, "s-" + "0" * 32):
        reply = alice.send({"type": "resume", "session_id": session_id, "after_seq": 0})[0]
        assert reply == {
            "type": "error",
            "code": "session_not_found",
            "message": f"no session {session_id!r}",
            "msg_id": None,
            "session_id": session_id,
        }


def test_a_frame_from_an_unknown_connection_is_refused(aws: Any, services: Any, store: Any) -> None:
    stranger = Client(aws, "conn-never-connected")
    before = _snapshot(store)
    reply = stranger.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1"})
    assert [r["code"] for r in reply] == ["unknown_connection"]
    assert reply[0]["msg_id"] == "m-1"
    assert _snapshot(store) == before and aws.depth() == 0


def test_the_store_failing_gets_a_retryable_error_not_a_crash(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = Client(aws, "conn-A")
    alice.connect()
    session_id = replies_of(alice.send({"type": "start", "workflow": "CustomerSupport"}))[0]["session_id"]

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("mongodb unreachable")

    monkeypatch.setattr(store, "record_input", down)
    reply = alice.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "hi"})
    assert [(r["type"], r["code"], r["msg_id"]) for r in reply] == [("error", "unavailable", "m-2")]


def test_a_ping_is_answered_with_a_pong(aws: Any, services: Any) -> None:
    alice = Client(aws, "conn-A")
    alice.connect()
    assert alice.send({"type": "ping", "msg_id": "p-1"}) == [{"type": "pong", "msg_id": "p-1"}]
    event = message_event("conn-A", "{}")
    assert default.handler(event, LambdaContext()) == {"statusCode": 200}

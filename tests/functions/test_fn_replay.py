"""Replay and live delivery through the real handlers: replay_end, pages, duplicate starts, subscribers."""

from __future__ import annotations

from typing import Any

import pytest

from runtime_core.routes import session_frames
from tests.functions.harness import Client, events_of, replies_of, run_queue

START = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}


def _started(aws: Any) -> tuple[Client, str, int]:
    alice = Client(aws, "conn-A")
    alice.connect()
    session_id = replies_of(alice.send(START))[0]["session_id"]
    run_queue(aws)
    last = events_of(alice.poll())[-1]["seq"]
    return alice, session_id, last


def test_resume_ends_its_replay_with_the_last_seq_and_nothing_more(aws: Any, services: Any) -> None:
    _, session_id, last = _started(aws)
    bob = Client(aws, "conn-B")
    bob.connect()
    got = bob.send({"type": "resume", "session_id": session_id, "after_seq": 2, "msg_id": "r-1"})
    assert got[0]["type"] == "ack"
    assert [e["seq"] for e in events_of(got)] == list(range(3, last + 1))
    assert got[-1] == {
        "type": "replay_end",
        "msg_id": "r-1",
        "session_id": session_id,
        "after_seq": 2,
        "last_seq": last,
        "more": False,
    }
    # Nothing to replay: the marker still comes, with last_seq = after_seq.
    got = bob.send({"type": "resume", "session_id": session_id, "after_seq": last})
    assert events_of(got) == []
    assert got[-1]["type"] == "replay_end" and got[-1]["last_seq"] == last and got[-1]["more"] is False


def test_a_full_replay_page_says_more_remain(
    aws: Any, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, session_id, last = _started(aws)
    assert last > 4
    monkeypatch.setattr(session_frames, "MAX_REPLAY_EVENTS", 3)
    bob = Client(aws, "conn-B")
    bob.connect()
    seen: list[int] = []
    after, pages = 0, 0
    while True:
        got = bob.send({"type": "resume", "session_id": session_id, "after_seq": after})
        seen += [e["seq"] for e in events_of(got)]
        end = got[-1]
        assert end["type"] == "replay_end" and end["after_seq"] == after
        pages += 1
        after = end["last_seq"]
        if not end["more"]:
            break
    assert seen == list(range(1, last + 1))
    assert pages == -(-last // 3) + (1 if last % 3 == 0 else 0)


def test_a_duplicate_start_replays_like_a_resume_and_subscribes(aws: Any, services: Any) -> None:
    _, session_id, last = _started(aws)
    # The client lost the first ack; it sends the same start again on a new connection.
    again = Client(aws, "conn-A2")
    again.connect()
    got = again.send(START)
    assert got[0] == {"type": "ack", "msg_id": "m-1", "session_id": session_id, "duplicate": True}
    assert [e["seq"] for e in events_of(got)] == list(range(1, last + 1))
    assert got[-1]["type"] == "replay_end" and got[-1]["last_seq"] == last
    # ... and follows the session live from there.
    again.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "Thanks."})
    run_queue(aws)
    assert events_of(again.poll())[0]["seq"] == last + 1


def test_live_events_go_to_every_connection_that_named_the_session(aws: Any, services: Any) -> None:
    alice, session_id, last = _started(aws)
    # A second device that only sends an input (no resume) follows the session from then on.
    carol = Client(aws, "conn-C")
    carol.connect()
    assert (
        replies_of(
            carol.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "Thanks."})
        )[0]["type"]
        == "ack"
    )
    bystander = Client(aws, "conn-D")
    bystander.connect()
    run_queue(aws)
    alice_live = [e["seq"] for e in events_of(alice.poll())]
    assert alice_live[0] == last + 1
    assert [e["seq"] for e in events_of(carol.poll())] == alice_live
    assert bystander.poll() == []

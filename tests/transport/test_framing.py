"""Batching and chunking: exact post counts, every post within the limit, lossless reassembly."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from runtime_core.events import AgentMessage
from runtime_core.transport import InMemoryPoster, Reassembler, encode, plan_posts

LIMIT = 128 * 1024
# '{"type":"batch","messages":[' + ']}' : written out here so the test does not borrow the code's constants.
ENVELOPE = 28 + 2


def event_of_size(seq: int, size: int) -> dict[str, Any]:
    event = {"type": "agent_message", "session_id": "s", "seq": seq, "agent": "a", "content": "", "turn": 0}
    pad = size - len(json.dumps(event, separators=(",", ":")))
    event["content"] = "x" * pad
    assert len(json.dumps(event, separators=(",", ":")).encode()) == size
    return event


@pytest.mark.parametrize(("count", "size"), [(500, 1000), (7, 40_000), (130, 1000), (131, 1000), (3, 65_000)])
def test_exact_post_count_for_equal_events(count: int, size: int) -> None:
    events = [event_of_size(1000 + i, size) for i in range(count)]
    per_post = (LIMIT - ENVELOPE + 1) // (size + 1)  # k events cost ENVELOPE + k*size + (k-1) commas
    posts = plan_posts([encode(e) for e in events], LIMIT)
    assert len(posts) == math.ceil(count / per_post)
    assert all(p.size == len(p.payload.encode()) <= LIMIT for p in posts)
    reassembler = Reassembler()
    assert [m for p in posts for m in reassembler.feed(p.payload)] == events


def test_boundaries_of_one_post() -> None:
    assert plan_posts([], LIMIT) == []
    single = event_of_size(1, 500)
    only = plan_posts([encode(single)], LIMIT)
    # One message travels bare, not in an envelope.
    assert len(only) == 1 and json.loads(only[0].payload) == single
    # Two events whose batch is exactly LIMIT bytes: ENVELOPE + a + b + 1 comma == LIMIT.
    a = (LIMIT - ENVELOPE - 1) // 2
    b = LIMIT - ENVELOPE - 1 - a
    exactly_full = [event_of_size(1, a), event_of_size(2, b)]
    posts = plan_posts([encode(e) for e in exactly_full], LIMIT)
    assert len(posts) == 1 and posts[0].size == len(posts[0].payload.encode()) == LIMIT
    one_byte_over = [exactly_full[0], event_of_size(2, b + 1)]
    assert len(plan_posts([encode(e) for e in one_byte_over], LIMIT)) == 2
    assert len(plan_posts([encode(event_of_size(1, LIMIT))], LIMIT)) == 1


@pytest.mark.parametrize(
    "content",
    [
        "a" * 300_000,
        '"\\' * 120_000,  # every character needs escaping: the worst case for the size accounting
        "é中😀" * 40_000,  # 2-, 3- and 4-byte UTF-8
        "line\n\ttab\u0001" * 30_000,
    ],
    ids=["ascii", "escapes", "multibyte", "controls"],
)
def test_oversized_event_is_chunked_and_reassembles(content: str) -> None:
    big = {"type": "agent_message", "session_id": "s", "seq": 42, "agent": "a", "content": content, "turn": 3}
    small_before, small_after = event_of_size(41, 300), event_of_size(43, 300)
    posts = plan_posts([encode(small_before), encode(big), encode(small_after)], LIMIT)
    frames = [json.loads(p.payload) for p in posts]
    chunks = [f for f in frames if f["type"] == "chunk"]
    assert frames[0] == small_before and frames[-1] == small_after
    assert len(chunks) == len(frames) - 2 >= 2
    assert [c["part"] for c in chunks] == list(range(len(chunks)))
    assert {c["parts"] for c in chunks} == {len(chunks)} and {c["seq"] for c in chunks} == {42}
    assert all(p.size == len(p.payload.encode()) <= LIMIT for p in posts)
    reassembler = Reassembler()
    assert [m for p in posts for m in reassembler.feed(p.payload)] == [small_before, big, small_after]


def test_chunking_is_near_optimal_for_ascii() -> None:
    big = {"type": "agent_message", "seq": 1, "content": "a" * 1_000_000}
    posts = plan_posts([encode(big)], LIMIT)
    assert len(posts) == math.ceil(len(json.dumps(big)) / (LIMIT - 100))


def test_reassembler_restarts_when_part_zero_comes_again() -> None:
    text = json.dumps({"type": "agent_message", "seq": 9, "content": "abcdef"})
    reassembler = Reassembler()
    assert reassembler.feed({"type": "chunk", "seq": 9, "part": 0, "parts": 3, "data": text[:3]}) == []
    assert reassembler.feed({"type": "chunk", "seq": 9, "part": 0, "parts": 2, "data": text[:10]}) == []
    assert reassembler.feed({"type": "chunk", "seq": 9, "part": 1, "parts": 2, "data": text[10:]}) == [
        json.loads(text)
    ]
    with pytest.raises(ValueError, match="out of order"):
        reassembler.feed({"type": "chunk", "seq": 9, "part": 1, "parts": 2, "data": "x"})


def test_pydantic_events_are_posted_as_json() -> None:
    poster = InMemoryPoster()
    poster.connect("c1")
    event = AgentMessage(session_id="s", seq=1, agent="triage", content="hello", turn=1)
    outcome = poster.post("c1", [event, {"type": "ack", "msg_id": "m1"}])
    assert (outcome.posts, outcome.messages, outcome.gone) == (1, 2, False)
    received = poster.received("c1")
    assert received[0]["ts"] == event.ts.isoformat().replace("+00:00", "Z")
    assert received[1] == {"type": "ack", "msg_id": "m1"}


def test_in_memory_poster_closed_socket_behaves_like_410() -> None:
    poster = InMemoryPoster()
    assert poster.post("never-connected", [{"type": "pong"}]).gone
    poster.connect("c1")
    poster.disconnect("c1")
    assert poster.post("c1", [{"type": "pong"}]).gone
    sent: list[tuple[str, str]] = []
    local = InMemoryPoster(send=lambda cid, payload: sent.append((cid, payload)) is None and len(sent) < 2)
    events = [event_of_size(i, 100_000) for i in range(1, 4)]
    outcome = local.post("c9", events)
    assert outcome.gone and outcome.posts == 1 and len(sent) == 2

from __future__ import annotations

import json
from pathlib import Path

from runtime_core.protocol import (
    Ack,
    AnswerFrame,
    CancelFrame,
    ErrorReply,
    FrameError,
    PingFrame,
    Pong,
    ResumeFrame,
    StartFrame,
    UserMessageFrame,
    parse_frame,
)

EVENTS = Path(__file__).resolve().parents[2] / "infra" / "events"


def test_each_frame_type() -> None:
    assert parse_frame('{"type":"start","workflow":"CustomerSupport"}') == StartFrame(
        type="start", workflow="CustomerSupport"
    )
    assert parse_frame(b'{"type":"ping"}') == PingFrame(type="ping")
    frame = parse_frame(
        '{"type":"user_message","session_id":"s-1","msg_id":"m:1","text":"a\\nb\\tc \\u00e9 \\ud83d\\ude00"}'
    )
    assert isinstance(frame, UserMessageFrame) and frame.text == "a\nb\tc é 😀"
    answer = parse_frame(
        '{"type":"answer","session_id":"s","msg_id":"m","request_id":"r","data":{"ok":[1,{"b":null}]}}'
    )
    assert isinstance(answer, AnswerFrame) and answer.data == {"ok": [1, {"b": None}]} and answer.text is None
    assert parse_frame('{"type":"resume","session_id":"s","after_seq":0}') == ResumeFrame(
        type="resume", session_id="s", after_seq=0
    )
    assert isinstance(parse_frame('{"type":"cancel","session_id":"s"}'), CancelFrame)


def test_frame_exactly_at_the_limit_is_accepted() -> None:
    base = '{"type":"user_message","session_id":"s","msg_id":"m","text":""}'
    raw = base.replace('"text":""', '"text":"' + "é" * 8000 + '"')
    assert len(raw.encode()) < 32 * 1024
    assert isinstance(parse_frame(raw, max_bytes=len(raw.encode())), UserMessageFrame)
    assert isinstance(parse_frame(raw, max_bytes=len(raw.encode()) - 1), FrameError)


def test_every_sample_default_event_body_parses() -> None:
    parsed = {}
    for path in sorted(EVENTS.glob("default_*.json")):
        body = json.loads(path.read_text())["body"]
        parsed[path.stem] = parse_frame(body)
    invalid = parsed.pop("default_invalid")
    assert isinstance(invalid, FrameError) and "did you mean 'start'" in invalid.reason
    assert not [name for name, result in parsed.items() if isinstance(result, FrameError)]
    assert len(parsed) == 6


def test_control_replies_have_no_seq() -> None:
    for reply in (Ack(msg_id="m", session_id="s"), Pong(msg_id="m"), ErrorReply(code="x", message="y")):
        assert "seq" not in reply.model_dump()

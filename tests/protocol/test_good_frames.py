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


def _longest_frames() -> list[tuple[str, str]]:
    """Frames of the longest valid texts with the longest ids, in the scripts and escapes that cost most."""
    from runtime_core.protocol.frames import MAX_TEXT_BYTES

    ids = {"session_id": "s" * 128, "msg_id": "m" * 128}
    worst_texts = {
        "quotes": '"' * MAX_TEXT_BYTES,  # each byte doubles in JSON
        "newlines": "\n" * MAX_TEXT_BYTES,
        "backslashes": "\\" * MAX_TEXT_BYTES,
        "cjk": "語" * (MAX_TEXT_BYTES // 3),
        "emoji": "😀" * (MAX_TEXT_BYTES // 4),
    }
    frames = []
    for name, text in worst_texts.items():
        for frame in (
            {"type": "user_message", **ids, "text": text},
            {"type": "answer", **ids, "request_id": "r" * 128, "text": text},
            {"type": "start", "workflow": "w" * 128, "msg_id": "m" * 128, "message": text},
        ):
            # What JSON.stringify writes, and Python's json.dumps with and without its optional spaces.
            frames.append((name, json.dumps(frame, ensure_ascii=False, separators=(",", ":"))))
            frames.append((name, json.dumps(frame, ensure_ascii=False)))
    return frames


def test_every_valid_text_fits_in_a_frame() -> None:
    frames = _longest_frames()
    assert len(frames) == 30
    for name, raw in frames:
        assert len(raw.encode()) <= 32 * 1024, name
        assert not isinstance(parse_frame(raw), FrameError), (name, parse_frame(raw))


def test_a_cjk_text_at_the_limit_is_accepted() -> None:
    text = "語" * 5_333  # 15,999 bytes
    frame = parse_frame(json.dumps({"type": "user_message", "session_id": "s", "msg_id": "m", "text": text}))
    assert isinstance(frame, UserMessageFrame) and frame.text == text

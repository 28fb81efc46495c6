"""Parse-level bad-frame corpus: each frame gets a FrameError with a stable code and a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime_core.protocol import FrameError, FrameErrorCode, parse_frame

C = FrameErrorCode


def j(obj: Any) -> str:
    return json.dumps(obj)


def um(**fields: Any) -> str:
    frame = {"type": "user_message", "session_id": "s1", "msg_id": "m1", "text": "hi"}
    frame.update(fields)
    return j({k: v for k, v in frame.items() if v is not ...})


def ans(**fields: Any) -> str:
    frame = {"type": "answer", "session_id": "s1", "msg_id": "m1", "request_id": "r1", "text": "yes"}
    frame.update(fields)
    return j({k: v for k, v in frame.items() if v is not ...})


# (name, raw frame, expected code, a fragment the reason must contain)
CORPUS: list[tuple[str, str | bytes, FrameErrorCode, str]] = [
    # transport level
    ("empty string", "", C.invalid_json, "empty"),
    ("whitespace only", "  \n ", C.invalid_json, "empty"),
    ("oversized", j({"type": "ping", "pad": "x" * 40_000}), C.too_large, "limit is 32768"),
    ("oversized bytes", b"{" + b" " * 40_000 + b"}", C.too_large, "bytes"),
    ("invalid utf-8", b'{"type":"ping","msg_id":"\xff"}', C.not_utf8, "UTF-8"),
    ("truncated JSON", '{"type":"ping"', C.invalid_json, "not valid JSON"),
    ("trailing garbage", '{"type":"ping"} x', C.invalid_json, "Extra data"),
    ("single quotes", "{'type':'ping'}", C.invalid_json, "not valid JSON"),
    ("trailing comma", '{"type":"ping",}', C.invalid_json, "not valid JSON"),
    ("NaN", '{"type":"resume","session_id":"s1","after_seq":NaN}', C.invalid_json, "NaN"),
    ("Infinity", '{"type":"resume","session_id":"s1","after_seq":Infinity}', C.invalid_json, "Infinity"),
    ("deep nesting", "[" * 5000 + "]" * 5000, C.too_deep, "nested deeper"),
    ("deep nesting in data", ans(data=json.loads("{" + '"a":{' * 40 + "}" * 41)), C.too_deep, "nested"),
    ("duplicate type key", '{"type":"ping","type":"cancel","session_id":"s1"}', C.duplicate_key, "'type'"),
    ("duplicate nested key", ans().replace('"text"', '"data":{"a":1,"a":2},"text"'), C.duplicate_key, "'a'"),
    # shape
    ("array", "[]", C.not_an_object, "got list"),
    ("array of frames", j([{"type": "ping"}]), C.not_an_object, "JSON object"),
    ("string", '"ping"', C.not_an_object, "got str"),
    ("number", "42", C.not_an_object, "got int"),
    ("null", "null", C.not_an_object, "got NoneType"),
    ("true", "true", C.not_an_object, "got bool"),
    # type
    ("no type", j({"session_id": "s1"}), C.missing_type, "no 'type'"),
    ("type null", j({"type": None}), C.missing_type, "no 'type'"),
    ("type number", j({"type": 1}), C.invalid_field, "'type' must be a string"),
    ("type list", j({"type": ["ping"]}), C.invalid_field, "'type' must be a string"),
    ("unknown type", j({"type": "subscribe"}), C.unknown_type, "expected one of"),
    ("typo strat", j({"type": "strat", "workflow": "W"}), C.unknown_type, "did you mean 'start'"),
    ("typo usermessage", j({"type": "usermessage"}), C.unknown_type, "did you mean 'user_message'"),
    ("typo PING uppercase", j({"type": "PING"}), C.unknown_type, "did you mean 'ping'"),
    ("typo resum", j({"type": "resum", "session_id": "s1", "after_seq": 0}), C.unknown_type, "'resume'"),
    ("session event type", j({"type": "agent_message"}), C.unknown_type, "unknown frame type"),
    ("reply type", j({"type": "ack"}), C.unknown_type, "unknown frame type"),
    ("huge type", j({"type": "x" * 500}), C.unknown_type, "…"),
    # missing fields
    ("start without workflow", j({"type": "start"}), C.missing_field, "'workflow' is required"),
    ("user_message without text", um(text=...), C.missing_field, "'text' is required"),
    ("user_message without session", um(session_id=...), C.missing_field, "'session_id'"),
    ("user_message without msg_id", um(msg_id=...), C.missing_field, "'msg_id'"),
    ("answer without request_id", ans(request_id=...), C.missing_field, "'request_id'"),
    ("answer without text or data", ans(text=...), C.missing_field, "needs field 'text' or field 'data'"),
    ("answer with null text and data", ans(text=None, data=None), C.missing_field, "'text' or field 'data'"),
    ("resume without after_seq", j({"type": "resume", "session_id": "s1"}), C.missing_field, "'after_seq'"),
    ("cancel without session", j({"type": "cancel"}), C.missing_field, "'session_id'"),
    # unexpected fields (tenancy never comes from a frame)
    ("app_id in frame", um(app_id="other-tenant"), C.unexpected_field, "'app_id' is not allowed"),
    (
        "user_id in frame",
        j({"type": "start", "workflow": "W", "user_id": "u2"}),
        C.unexpected_field,
        "'user_id'",
    ),
    ("extra on ping", j({"type": "ping", "data": 1}), C.unexpected_field, "'data'"),
    # wrong types (strict: no coercion)
    (
        "after_seq as string",
        j({"type": "resume", "session_id": "s1", "after_seq": "3"}),
        C.invalid_field,
        "valid integer",
    ),
    (
        "after_seq as float",
        j({"type": "resume", "session_id": "s1", "after_seq": 1.5}),
        C.invalid_field,
        "after_seq",
    ),
    (
        "after_seq as bool",
        j({"type": "resume", "session_id": "s1", "after_seq": True}),
        C.invalid_field,
        "after_seq",
    ),
    (
        "negative after_seq",
        j({"type": "resume", "session_id": "s1", "after_seq": -1}),
        C.invalid_field,
        "greater than or equal to 0",
    ),
    (
        "after_seq beyond 2^53",
        j({"type": "resume", "session_id": "s1", "after_seq": 2**60}),
        C.invalid_field,
        "after_seq",
    ),
    ("text as number", um(text=5), C.invalid_field, "'text'"),
    ("text as object", um(text={"x": 1}), C.invalid_field, "'text'"),
    ("session_id as number", um(session_id=17), C.invalid_field, "'session_id'"),
    ("data as list", ans(data=[1, 2]), C.invalid_field, "'data'"),
    ("workflow as list", j({"type": "start", "workflow": ["W"]}), C.invalid_field, "'workflow'"),
    # bounds and charsets
    ("empty text", um(text=""), C.invalid_field, "must have at least 1 character"),
    ("text too long", um(text="a" * 16_001), C.invalid_field, "16001 bytes of UTF-8; the limit is 16000"),
    ("CJK text too long", um(text="語" * 5_334), C.invalid_field, "16002 bytes of UTF-8"),
    ("12,000 CJK characters", um(text="語" * 12_000), C.too_large, "texts: 16000 bytes of UTF-8"),
    ("empty session id", um(session_id=""), C.invalid_field, "1-128"),
    ("session id too long", um(session_id="s" * 129), C.invalid_field, "1-128"),
    ("session id with space", um(session_id="s 1"), C.invalid_field, "'session_id'"),
    ("session id with slash", um(session_id="../../etc"), C.invalid_field, "'session_id'"),
    ("session id mongo operator", um(session_id="$where"), C.invalid_field, "'session_id'"),
    ("msg_id with unicode", um(msg_id="m\u00e9"), C.invalid_field, "'msg_id'"),
    ("request_id with newline", ans(request_id="r\n1"), C.invalid_field, "'request_id'"),
    ("workflow with path", j({"type": "start", "workflow": "../secrets"}), C.invalid_field, "'workflow'"),
    ("NUL in text", um(text="a\u0000b"), C.invalid_field, "U+0000"),
    ("escape char in text", um(text="\u001b[31mred"), C.invalid_field, "U+001B"),
    ("DEL in text", um(text="a\u007fb"), C.invalid_field, "U+007F"),
    ("C1 control in text", um(text="a\u0085b"), C.invalid_field, "U+0085"),
    ("bidi override in text", um(text="abc\u202edcba"), C.invalid_field, "U+202E"),
    (
        "lone surrogate in text",
        '{"type":"user_message","session_id":"s1","msg_id":"m1","text":"\\ud800"}',
        C.invalid_field,
        "lone surrogate",
    ),
    (
        "control char in start message",
        j({"type": "start", "workflow": "W", "message": "\u0007"}),
        C.invalid_field,
        "'message'",
    ),
]


@pytest.mark.parametrize(("name", "raw", "code", "fragment"), CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_frame(name: str, raw: str | bytes, code: FrameErrorCode, fragment: str) -> None:
    result = parse_frame(raw)
    assert isinstance(result, FrameError), result
    assert result.code == code, result.reason
    assert fragment in result.reason, result.reason
    reply = result.reply()
    assert reply.type == "error" and reply.code == code.value and reply.message == result.reason


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50


def test_error_carries_a_wellformed_msg_id_but_never_echoes_a_hostile_one() -> None:
    good = parse_frame(um(text=""))
    assert isinstance(good, FrameError) and good.msg_id == "m1" and good.reply().msg_id == "m1"
    hostile = parse_frame(um(text="", msg_id="<script>"))
    assert isinstance(hostile, FrameError) and hostile.msg_id is None


def test_error_carries_the_frames_session_id_when_it_is_well_formed() -> None:
    for raw in (um(text=""), ans(text=..., data=...), um(extra=1), j({"type": "resum", "session_id": "s1"})):
        result = parse_frame(raw)
        assert isinstance(result, FrameError) and result.session_id == "s1", raw
        assert result.reply().session_id == "s1"
    hostile = parse_frame(um(text="", session_id="$where"))
    assert isinstance(hostile, FrameError) and hostile.session_id is None
    assert parse_frame(j({"type": "ping", "session_id": 5})).session_id is None  # type: ignore[union-attr]


def test_field_path_points_inside_nested_values() -> None:
    result = parse_frame(um(text=["x"]))
    assert isinstance(result, FrameError) and result.field == "text" and result.frame_type == "user_message"


def test_custom_limit() -> None:
    result = parse_frame(j({"type": "ping"}), max_bytes=10)
    assert isinstance(result, FrameError) and result.code == C.too_large


def test_mutated_frames_never_raise() -> None:
    # Deterministic mutation fuzzing over every valid frame shape: parse_frame returns, it never raises.
    import random

    rng = random.Random(7)
    seeds = [
        j({"type": "start", "workflow": "W", "msg_id": "m1", "message": "hi"}),
        um(),
        ans(data={"k": [1, {"x": None}]}),
        j({"type": "resume", "session_id": "s1", "after_seq": 3}),
    ]
    alphabet = '{}[]":,\\0-9aé\x00 \ud800'
    for _ in range(600):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        raw = "".join(chars)
        result = parse_frame(raw if rng.random() < 0.5 else raw.encode("utf-8", "surrogatepass"))
        assert result is not None

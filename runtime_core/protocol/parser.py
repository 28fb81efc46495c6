"""``parse_frame``: raw WebSocket text in, a typed frame or a ``FrameError`` out. It never raises."""

from __future__ import annotations

import difflib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runtime_core.config import API_GATEWAY_MAX_FRAME_BYTES
from runtime_core.protocol.frames import FRAME_ADAPTER, FRAME_TYPES, MAX_TEXT_BYTES, Frame
from runtime_core.protocol.replies import ErrorReply

# json's C decoder recurses per nesting level; refusing deep documents before decoding keeps it bounded.
MAX_JSON_DEPTH = 32
_MSG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class FrameErrorCode(StrEnum):
    too_large = "frame_too_large"
    not_utf8 = "not_utf8"
    invalid_json = "invalid_json"
    too_deep = "too_deep"
    duplicate_key = "duplicate_key"
    not_an_object = "not_an_object"
    missing_type = "missing_type"
    unknown_type = "unknown_type"
    missing_field = "missing_field"
    unexpected_field = "unexpected_field"
    invalid_field = "invalid_field"


class FrameError(BaseModel):
    """Why a frame was refused: a stable ``code``, a sentence for humans, and what we could salvage."""

    model_config = ConfigDict(frozen=True)

    code: FrameErrorCode
    reason: str
    field: str | None = None
    frame_type: str | None = None
    msg_id: str | None = None
    # The frame's session, when it named one well-formed: a client with several sessions on one socket
    # can tell which one the refusal is about.
    session_id: str | None = None

    def reply(self) -> ErrorReply:
        return ErrorReply(
            code=self.code.value, message=self.reason, msg_id=self.msg_id, session_id=self.session_id
        )


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate keys, parsers disagree on which one wins; a validator and a consumer must not.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _nesting(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _field_path(loc: tuple[int | str, ...]) -> str:
    # The first element is the union tag pydantic adds ("start", "answer"...): not part of the client's frame.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in FRAME_TYPES else [str(p) for p in loc]
    return ".".join(parts)


def _well_formed_id(value: Any) -> str | None:
    # Echo a client's id in an error only when it is itself well-formed: never reflect arbitrary input.
    return value if isinstance(value, str) and _MSG_ID.match(value) else None


def _from_validation(
    exc: ValidationError, frame_type: str, msg_id: str | None, session_id: str | None
) -> FrameError:
    error = exc.errors(include_url=False)[0]
    field = _field_path(tuple(error["loc"])) or None
    kind = error["type"]
    where = f"field {field!r}" if field else f"{frame_type!r} frame"
    ids = {"frame_type": frame_type, "msg_id": msg_id, "session_id": session_id}
    if kind == "missing":
        return FrameError(
            code=FrameErrorCode.missing_field,
            reason=f"{where} is required in a {frame_type!r} frame",
            field=field,
            **ids,
        )
    if kind == "extra_forbidden":
        return FrameError(
            code=FrameErrorCode.unexpected_field,
            reason=f"{where} is not allowed in a {frame_type!r} frame",
            field=field,
            **ids,
        )
    message = re.sub(r"^(Input|String|Value) should", "must", error["msg"].removeprefix("Value error, "))
    if kind == "string_unicode":
        message = "contains an invalid Unicode character (a lone surrogate)"
    message = message.replace("a valid dictionary", "a JSON object")
    if kind == "string_pattern_mismatch":
        message = "must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
    return FrameError(code=FrameErrorCode.invalid_field, reason=f"{where}: {message}", field=field, **ids)


def parse_frame(raw: str | bytes, max_bytes: int = API_GATEWAY_MAX_FRAME_BYTES) -> Frame | FrameError:
    """Validate one client frame. Size is checked before anything else is done with the input."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        # Not read any further (its ids are not salvaged): size comes before anything else.
        return FrameError(
            code=FrameErrorCode.too_large,
            reason=(
                f"frame is {size} bytes; the limit is {max_bytes} (texts: {MAX_TEXT_BYTES} bytes of UTF-8)"
            ),
        )
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return FrameError(
                code=FrameErrorCode.not_utf8, reason=f"frame is not UTF-8 text (byte {exc.start})"
            )
    else:
        text = raw
    if not text.strip():
        return FrameError(code=FrameErrorCode.invalid_json, reason="frame is empty; expected a JSON object")
    if _nesting(text) > MAX_JSON_DEPTH:
        return FrameError(code=FrameErrorCode.too_deep, reason=f"JSON is nested deeper than {MAX_JSON_DEPTH}")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _Duplicate as exc:
        return FrameError(
            code=FrameErrorCode.duplicate_key, reason=f"key {exc.args[0]!r} appears more than once"
        )
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return FrameError(
            code=FrameErrorCode.invalid_json, reason=f"frame is not valid JSON: {detail}{where}"
        )
    if not isinstance(data, dict):
        return FrameError(
            code=FrameErrorCode.not_an_object,
            reason=f"frame must be a JSON object, got {type(data).__name__.replace('dict', 'object')}",
        )

    msg_id = _well_formed_id(data.get("msg_id"))
    session_id = _well_formed_id(data.get("session_id"))
    frame_type = data.get("type")
    if frame_type is None:
        return FrameError(
            code=FrameErrorCode.missing_type,
            reason=f"frame has no 'type'; one of {list(FRAME_TYPES)}",
            field="type",
            msg_id=msg_id,
            session_id=session_id,
        )
    if not isinstance(frame_type, str):
        return FrameError(
            code=FrameErrorCode.invalid_field,
            reason="field 'type' must be a string",
            field="type",
            msg_id=msg_id,
            session_id=session_id,
        )
    if frame_type not in FRAME_TYPES:
        close = difflib.get_close_matches(frame_type.lower(), FRAME_TYPES, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {list(FRAME_TYPES)}"
        shown = frame_type if len(frame_type) <= 40 else frame_type[:40] + "…"
        return FrameError(
            code=FrameErrorCode.unknown_type,
            reason=f"unknown frame type {shown!r}{hint}",
            field="type",
            msg_id=msg_id,
            session_id=session_id,
        )
    if frame_type == "answer" and data.get("text") is None and data.get("data") is None:
        # Absent content is a missing field, like any other: not a rule violation of a field that is there.
        return FrameError(
            code=FrameErrorCode.missing_field,
            reason="an 'answer' frame needs field 'text' or field 'data' (or both)",
            field="text",
            frame_type=frame_type,
            msg_id=msg_id,
            session_id=session_id,
        )
    try:
        return FRAME_ADAPTER.validate_python(data)
    except ValidationError as exc:
        return _from_validation(exc, frame_type, msg_id, session_id)

"""Client → server frames: a strict discriminated union on ``type``.

Strict means: no extra fields, no coercion ("3" is not 3, true is not 1), bounded strings, ids from a safe
charset. Tenancy never appears here: app_id and user_id come from the verified token via the connection
record.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

# Texts are limited in UTF-8 bytes, not characters: the limit that matters is API Gateway's 32 KB frame, and
# a text of MAX_TEXT_BYTES fits in any frame with room to spare even when JSON doubles every byte of it (all
# quotes or backslashes), whatever script it is written in. Characters would not: 12,000 CJK characters are
# 36,000 bytes, a frame no gateway takes.
MAX_TEXT_BYTES = 16_000
MAX_DATA_DEPTH = 16

# Ids become Mongo keys, SQS deduplication ids (max 128, [!-~]) and log fields: keep them plain.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
WorkflowName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]


def _printable(value: str) -> str:
    # Newlines and tabs are text; other control characters, lone surrogates and bidi overrides are not.
    for ch in value:
        if ch in "\n\r\t":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            raise ValueError(f"contains a control character U+{ord(ch):04X}")
    return value


def _bounded_text(value: str) -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise ValueError(f"is {size} bytes of UTF-8; the limit is {MAX_TEXT_BYTES} bytes")
    return value


Text = Annotated[str, AfterValidator(_printable), AfterValidator(_bounded_text)]
NonEmptyText = Annotated[str, Field(min_length=1), AfterValidator(_printable), AfterValidator(_bounded_text)]


def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _bounded_data(value: dict[str, Any]) -> dict[str, Any]:
    if _depth(value) > MAX_DATA_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_DATA_DEPTH} levels")
    return value


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StartFrame(_Frame):
    """Start a new session of a workflow; the optional message is the first user input."""

    type: Literal["start"]
    workflow: WorkflowName
    msg_id: Id | None = None
    message: Text | None = None


class UserMessageFrame(_Frame):
    type: Literal["user_message"]
    session_id: Id
    msg_id: Id
    text: NonEmptyText


class AnswerFrame(_Frame):
    """Answer to an ``input_request`` event: text for a user turn, data (and/or text) for a UI tool."""

    type: Literal["answer"]
    session_id: Id
    msg_id: Id
    request_id: Id
    text: Text | None = None
    data: Annotated[dict[str, Any], AfterValidator(_bounded_data)] | None = None

    @model_validator(mode="after")
    def _needs_content(self) -> AnswerFrame:
        if self.text is None and self.data is None:
            raise ValueError("an answer needs text or data")
        return self


class ResumeFrame(_Frame):
    """Replay every stored event of the session with ``seq > after_seq``, then follow it live."""

    type: Literal["resume"]
    session_id: Id
    after_seq: Annotated[int, Field(ge=0, le=2**53 - 1)]
    msg_id: Id | None = None


class CancelFrame(_Frame):
    type: Literal["cancel"]
    session_id: Id
    msg_id: Id | None = None


class PingFrame(_Frame):
    type: Literal["ping"]
    msg_id: Id | None = None


Frame = Annotated[
    StartFrame | UserMessageFrame | AnswerFrame | ResumeFrame | CancelFrame | PingFrame,
    Field(discriminator="type"),
]
FRAME_ADAPTER: TypeAdapter[Frame] = TypeAdapter(Frame)
FRAME_TYPES: tuple[str, ...] = ("start", "user_message", "answer", "resume", "cancel", "ping")

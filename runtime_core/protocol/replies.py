"""Server → client control replies. Not session events: they carry no ``seq`` and are not stored or replayed.

A client tells them apart from session events by the absence of ``seq`` (every session event has one).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ack(_Reply):
    """The frame ``msg_id`` was accepted and persisted (for ``start``: the new session id)."""

    type: Literal["ack"] = "ack"
    msg_id: str | None = None
    session_id: str | None = None
    # True when the same msg_id was seen before: nothing new was queued.
    duplicate: bool = False


class Pong(_Reply):
    type: Literal["pong"] = "pong"
    msg_id: str | None = None


class ErrorReply(_Reply):
    """A frame was refused. ``code`` is stable (FrameErrorCode and handler codes); ``message`` is prose."""

    type: Literal["error"] = "error"
    code: str
    message: str
    msg_id: str | None = None
    session_id: str | None = None


ControlReply = Ack | Pong | ErrorReply

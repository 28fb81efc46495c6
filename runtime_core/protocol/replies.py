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


class ReplayEnd(_Reply):
    """Closes the events a ``resume`` (or a duplicate ``start``) replayed, which came just before it.

    ``last_seq`` is the last replayed ``seq`` (``after_seq`` when nothing was replayed); ``more`` is true when
    the replay was cut at its page size and stored events remain after ``last_seq``: resume again from there.
    """

    type: Literal["replay_end"] = "replay_end"
    msg_id: str | None = None
    session_id: str
    after_seq: int
    last_seq: int
    more: bool


class Closing(_Reply):
    """The server is about to close this connection (``code``: why, e.g. ``token_expired``)."""

    type: Literal["closing"] = "closing"
    code: str
    message: str


ControlReply = Ack | Pong | ErrorReply | ReplayEnd | Closing

"""Live text while a model writes: ephemeral ``text_delta`` messages and how they are coalesced into posts.

A delta is not a session event: no ``seq``, never stored, never replayed. It carries where its text goes (the
session, the agent, the agent turn, a message id and the character offset in the reply), so a client can
place it, drop a repeat, and replace it all with the stored ``agent_message`` of the same turn, which is the
authoritative text (a client that reconnects mid-reply gets that one through ``resume``).

The engine hands every piece of streamed text to a ``DeltaSink`` (a port: the engine never posts); the worker
and ``mozaiks serve`` wrap their poster in a ``DeltaCoalescer`` so a reply costs a bounded number of posts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

# A post at most every this many seconds per reply, unless this many characters are waiting.
COALESCE_SECONDS = 0.08
COALESCE_CHARS = 512


class TextDelta(BaseModel):
    """A piece of an agent's reply, ``offset`` characters into it (Python ``str`` characters: code points)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["text_delta"] = "text_delta"
    session_id: str
    agent: str
    turn: int
    message_id: str
    offset: int
    text: str


def message_id(session_id: str, turn: int) -> str:
    """The id of the text an agent turn writes: its deltas carry it; AG-UI messages use it too."""
    return f"{session_id}:{turn}"


class DeltaSink(Protocol):
    """The engine's port for streamed text. ``flush`` is called when a model response ends."""

    def delta(self, delta: TextDelta) -> None: ...

    def flush(self) -> None: ...


class DeltaCoalescer:
    """Joins contiguous deltas of one message and hands them to ``post`` at most every ``interval`` seconds
    (the first piece of a message at once: it is what the user waits for), or when ``max_chars`` wait.
    ``post`` must not raise for a client that left; anything it raises is swallowed: deltas are best effort
    and never fail a step."""

    def __init__(
        self,
        post: Callable[[TextDelta], None],
        *,
        interval: float = COALESCE_SECONDS,
        max_chars: int = COALESCE_CHARS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self.interval = interval
        self.max_chars = max_chars
        self._clock = clock
        self._pending: TextDelta | None = None
        self._last: float | None = None
        self._message: str | None = None
        self.posts = 0

    def delta(self, delta: TextDelta) -> None:
        pending = self._pending
        if pending is not None and (
            pending.message_id != delta.message_id or delta.offset != pending.offset + len(pending.text)
        ):
            self.flush()
            pending = None
        if pending is None:
            self._pending = delta
        else:
            self._pending = pending.model_copy(update={"text": pending.text + delta.text})
        if delta.message_id != self._message:
            self._message, self._last = delta.message_id, None  # a new message: its first piece goes now
        now = self._clock()
        assert self._pending is not None
        if (
            self._last is None
            or now - self._last >= self.interval
            or len(self._pending.text) >= self.max_chars
        ):
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None or not pending.text:
            return
        self._last = self._clock()
        self.posts += 1
        try:
            self._post(pending)
        except Exception:
            return

"""A warm container's memory of the transcripts it worked on: a claim then reads only the newer steps.

Keyed by session, checked against the session header of every claim (its step and message counts): an entry
that does not match what the header says is never used (another container moved the session on; the claim
reads what is missing). Messages are append-only, so an entry holds them as they were committed; each claim
gets its own list (the engine appends to it), never the entry's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from runtime_core.session import ChatMessage


@dataclass(frozen=True)
class Cached:
    step_count: int
    messages: tuple[ChatMessage, ...]


class Transcripts:
    """Least recently used first out, bounded by sessions and by messages held."""

    def __init__(self, max_sessions: int = 256, max_messages: int = 200_000) -> None:
        self._entries: OrderedDict[str, Cached] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self.max_sessions = max_sessions
        self.max_messages = max_messages

    def get(self, session_id: str) -> Cached | None:
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is not None:
                self._entries.move_to_end(session_id)
            return entry

    def put(self, session_id: str, step_count: int, messages: tuple[ChatMessage, ...]) -> None:
        with self._lock:
            old = self._entries.pop(session_id, None)
            if old is not None:
                self._held -= len(old.messages)
            if len(messages) > self.max_messages:
                return
            self._entries[session_id] = Cached(step_count, messages)
            self._held += len(messages)
            while self._entries and (
                len(self._entries) > self.max_sessions or self._held > self.max_messages
            ):
                _, evicted = self._entries.popitem(last=False)
                self._held -= len(evicted.messages)

    def forget(self, session_id: str) -> None:
        with self._lock:
            old = self._entries.pop(session_id, None)
            if old is not None:
                self._held -= len(old.messages)

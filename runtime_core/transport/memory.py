"""A poster without AWS: for tests, and for the local server (whose ``send`` writes to an open socket)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runtime_core.transport.framing import MAX_POST_BYTES, Message, Reassembler, encode, plan_posts
from runtime_core.transport.poster import PostOutcome

# Returns False when the socket is closed: treated exactly like a 410 from the Management API.
Send = Callable[[str, str], bool]
# Closes a socket (connection id, reason); False when it was already closed.
Close = Callable[[str, str], bool]


class InMemoryPoster:
    """Same framing as the Management API poster. Without ``send`` it records payloads per open connection."""

    def __init__(
        self, send: Send | None = None, max_post_bytes: int = MAX_POST_BYTES, close: Close | None = None
    ) -> None:
        self._send = send
        self._close = close
        self.closed: dict[str, str] = {}
        self.max_post_bytes = max_post_bytes
        self.open: set[str] = set()
        self.payloads: dict[str, list[str]] = {}
        self.total_posts = 0

    def connect(self, connection_id: str) -> None:
        self.open.add(connection_id)
        self.payloads.setdefault(connection_id, [])

    def disconnect(self, connection_id: str) -> None:
        self.open.discard(connection_id)

    def close(self, connection_id: str, reason: str) -> bool:
        if self._close is not None:
            return self._close(connection_id, reason)
        was_open = connection_id in self.open
        self.open.discard(connection_id)
        if was_open:
            self.closed[connection_id] = reason
        return was_open

    def post(self, connection_id: str, messages: Sequence[Message]) -> PostOutcome:
        encoded = [encode(m) for m in messages]
        posts = 0
        for planned in plan_posts(encoded, self.max_post_bytes):
            if not self._deliver(connection_id, planned.payload):
                return PostOutcome(connection_id=connection_id, posts=posts, gone=True)
            posts += 1
            self.total_posts += 1
        return PostOutcome(
            connection_id=connection_id,
            posts=posts,
            messages=len(encoded),
            bytes=sum(e.size for e in encoded),
        )

    def _deliver(self, connection_id: str, payload: str) -> bool:
        if self._send is not None:
            return self._send(connection_id, payload)
        if connection_id not in self.open:
            return False
        self.payloads[connection_id].append(payload)
        return True

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        """What a client on this connection would have after reassembling every post."""
        reassembler = Reassembler()
        return [m for payload in self.payloads.get(connection_id, []) for m in reassembler.feed(payload)]

"""A frame refused for a reason the client can act on."""

from __future__ import annotations


class Refusal(Exception):
    """Becomes an ``error`` control reply with a stable ``code``; the store is left as it was."""

    def __init__(self, code: str, message: str, session_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.session_id = session_id

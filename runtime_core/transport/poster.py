"""The outbound port: deliver messages to one client connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from runtime_core.transport.framing import Message


class PostOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    # Successful posts (API calls that delivered a payload) and how many messages they carried.
    posts: int = 0
    messages: int = 0
    # Bytes of the messages delivered (their JSON; the step metrics' PostedBytes).
    bytes: int = 0
    # The client left (410): the caller deletes the connection record and does not retry. Nothing is lost:
    # every session event is stored and replayed when the client resumes.
    gone: bool = False


class PostError(Exception):
    """A post failed for a reason other than the client leaving: throttled past the retry budget, forbidden,
    too large even when split, or the endpoint unreachable."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status


class Poster(Protocol):
    def post(self, connection_id: str, messages: Sequence[Message]) -> PostOutcome:
        """Deliver ``messages`` in order, in as few posts as the size limit allows."""
        ...

    def close(self, connection_id: str, reason: str) -> bool:
        """Close the connection from the server's side (``reason``: a protocol code such as
        ``token_expired``); False when it was already gone."""
        ...

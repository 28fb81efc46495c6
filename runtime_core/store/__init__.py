"""Persistence port (``SessionStore``) and its MongoDB adapter; ``store_from_env`` picks the database."""

from typing import TYPE_CHECKING, Any

from runtime_core.store.mongo import MongoSessionStore, StoreSettings, state_from_document
from runtime_core.store.protocol import (
    Claim,
    ClaimRefused,
    CommitResult,
    Connection,
    LeaseLost,
    RecordedInput,
    SessionExists,
    SessionNotFound,
    SessionStore,
    SessionSummary,
    StoreError,
    StoreUnavailable,
    TranscriptIncomplete,
)

if TYPE_CHECKING:
    from runtime_core.store.embedded import EmbeddedServer, start_embedded, store_from_env

_EMBEDDED = {"EmbeddedServer", "start_embedded", "store_from_env"}


def __getattr__(name: str) -> Any:
    # The embedded server (local runs and tests) loads on first use: the Lambda handlers import this package
    # for the port and the MongoDB adapter and must not pay for asyncio and the server at cold start.
    if name in _EMBEDDED:
        from runtime_core.store import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Claim",
    "ClaimRefused",
    "CommitResult",
    "Connection",
    "EmbeddedServer",
    "LeaseLost",
    "MongoSessionStore",
    "RecordedInput",
    "SessionExists",
    "SessionNotFound",
    "SessionStore",
    "SessionSummary",
    "StoreError",
    "StoreSettings",
    "StoreUnavailable",
    "TranscriptIncomplete",
    "start_embedded",
    "state_from_document",
    "store_from_env",
]

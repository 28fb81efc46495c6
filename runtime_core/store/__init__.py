"""Persistence port (``SessionStore``) and its MongoDB adapter; ``store_from_env`` picks the database."""

from runtime_core.store.embedded import EmbeddedServer, start_embedded, store_from_env
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

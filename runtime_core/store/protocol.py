"""The persistence port: what handlers and the step worker may ask of a session store.

Every operation takes the ``Tenant`` from the verified JWT and filters on it, so another tenant's session id
behaves exactly like one that does not exist (``SessionNotFound``, or ``ClaimRefused(reason="not_found")``).
The only lookups without a tenant are by connection id: the connection record is where the tenant comes from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from runtime_core.events import Event
from runtime_core.session import ChatMessage, SessionState, SessionStatus, Tenant, UsageRecord, UserInput


class StoreError(Exception):
    """Base of the store's own errors."""


class SessionNotFound(StoreError, LookupError):
    """The session does not exist for this tenant (another tenant's session looks exactly the same)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} not found")
        self.session_id = session_id


class SessionExists(StoreError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} already exists")
        self.session_id = session_id


class LeaseLost(StoreError):
    """The claim no longer holds (lease taken over, or released): the commit wrote nothing."""


class TranscriptIncomplete(StoreError):
    """Fewer messages are stored than the session counts (a retention TTL ran?): resuming would diverge."""


class StoreUnavailable(StoreError):
    """The database cannot run what the store needs (e.g. a standalone mongod without transactions)."""


class Claim(BaseModel):
    """What a step holds while it runs: everything the engine needs, plus the token that guards the commit."""

    model_config = ConfigDict(extra="forbid")

    tenant: Tenant
    session_id: str
    owner: str
    token: str
    # The session's version after the claim; the commit is a compare-and-set on it.
    version: int
    lease_expires_at: datetime
    state: SessionState
    # Recorded and not yet consumed, in the order they were recorded.
    pending_inputs: list[UserInput] = Field(default_factory=list)
    cancel_requested: bool = False
    message_count: int = 0


class ClaimRefused(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["not_found", "leased", "finished"]
    lease_expires_at: datetime | None = None


class RecordedInput(BaseModel):
    """Result of ``record_input``: ``new`` is False for a duplicate client message id."""

    model_config = ConfigDict(extra="forbid")

    new: bool
    status: Literal["in_progress", "completed"]
    session_id: str
    input_id: str


class CommitResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    message_count: int
    last_event_seq: int


class Connection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str
    tenant: Tenant
    session_ids: list[str] = Field(default_factory=list)
    # The Management API endpoint the connection came through (when no callback URL is configured).
    endpoint: str | None = None
    created_at: datetime
    expires_at: datetime


class SessionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str
    workflow_name: str
    status: SessionStatus
    turn: int
    message_count: int
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime


class SessionStore(Protocol):
    def ensure_indexes(self) -> None: ...

    def create_session(self, state: SessionState) -> None: ...

    def get_session(self, tenant: Tenant, session_id: str) -> SessionState:
        """The session without its messages (``messages == []``); see ``history`` for the transcript."""
        ...

    def list_sessions(
        self, tenant: Tenant, *, status: SessionStatus | None = None, limit: int = 50
    ) -> list[SessionSummary]: ...

    def record_input(self, tenant: Tenant, session_id: str, user_input: UserInput) -> RecordedInput: ...

    def claim(
        self, tenant: Tenant, session_id: str, owner: str, lease_seconds: float = 60.0
    ) -> Claim | ClaimRefused: ...

    def commit(
        self,
        claim: Claim,
        next_state: SessionState,
        new_messages: list[ChatMessage],
        events: list[Event],
        usage: list[UsageRecord],
        consumed_input_ids: list[str],
    ) -> CommitResult: ...

    def release(self, claim: Claim) -> bool: ...

    def request_cancel(self, tenant: Tenant, session_id: str) -> None: ...

    def events_after(
        self, tenant: Tenant, session_id: str, after_seq: int, limit: int = 500
    ) -> list[Event]: ...

    def history(
        self, tenant: Tenant, session_id: str, *, after_seq: int = -1, limit: int = 1000
    ) -> list[ChatMessage]: ...

    def put_connection(
        self,
        connection_id: str,
        tenant: Tenant,
        ttl_seconds: float | None = None,
        endpoint: str | None = None,
    ) -> None: ...

    def get_connection(self, connection_id: str) -> Connection | None: ...

    def delete_connection(self, connection_id: str) -> None: ...

    def subscribe(self, tenant: Tenant, connection_id: str, session_id: str) -> None: ...

    def live_connections(self, tenant: Tenant, session_id: str) -> list[str]: ...

    def close(self) -> None: ...

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
from runtime_core.usage import Dimension, SessionUsage, UsageRange, UsageReport


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


class TooManyPending(StoreError):
    """The session holds as many pending inputs as it may: the input is not recorded."""

    def __init__(self, session_id: str, limit: int) -> None:
        super().__init__(f"session {session_id!r} has {limit} inputs waiting already")
        self.session_id = session_id
        self.limit = limit


class LeaseLost(StoreError):
    """The claim no longer holds (lease taken over, or released): the commit wrote nothing."""


class TranscriptIncomplete(StoreError):
    """Fewer messages are stored than the session counts (a retention TTL ran?): resuming would diverge."""


class StoreUnavailable(StoreError):
    """The database cannot run what the store needs (e.g. a standalone mongod without transactions)."""


class NextStep(BaseModel):
    """The step message a commit calls for (reason and dedup id of a ``runtime_core.queue.StepMessage``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Literal["start", "input", "continue", "cancel", "retry", "sweep"]
    dedup_id: str


class Outbox(BaseModel):
    """What a committed step still has to do, written by the commit itself (same transaction): post the events
    ``post_after < seq <= post_to`` and queue ``next``. Whoever does it clears it (``finish_outbox``); a
    redelivery, a ``resume`` or the sweeper does it again when the process that committed died first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The claim token of the step that committed it: finishing an outbox never clears a newer one.
    id: str
    post_after: int = Field(ge=0)
    post_to: int = Field(ge=0)
    next: NextStep | None = None
    # The deduplication id of the step message whose delivery committed it: a redelivery of that message (its
    # worker failed after the commit) may claim while the outbox is fresh, and carries it out.
    by: str | None = None
    # The SQS receipt of the delivery that committed: if its process died before SQS deleted the message, the
    # message blocks the session's message group until its visibility timeout; whoever carries the outbox
    # out releases it.
    receipt: str | None = None


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
    # Left by the previous step when its process died between its commit and its posts / next step.
    outbox: Outbox | None = None
    # Where the store keeps the session (schema 2): committed step documents so far, the part still in schema
    # 1's collections, and whether pending inputs already live in the session document.
    step_count: int = 0
    legacy_messages: int = 0
    legacy_events: int = 0
    pending_embedded: bool = True


class ClaimRefused(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # in_flight: a chain is running (its next step is queued) and the claim was not that step's.
    reason: Literal["not_found", "leased", "finished", "in_flight"]
    lease_expires_at: datetime | None = None


InputStatus = Literal["in_progress", "completed", "refused"]


class RecordedInput(BaseModel):
    """An input's idempotency record. From ``record_input``, ``new`` is False for a message id already used
    in the session (then ``payload_hash`` is the first use's, to tell a retry from a reuse)."""

    model_config = ConfigDict(extra="forbid")

    new: bool
    # in_progress: pending, a step will consume it; completed: consumed; refused: a step refused it, and the
    # message id may be used again.
    status: InputStatus
    session_id: str
    input_id: str
    payload_hash: str | None = None


class SessionHeader(BaseModel):
    """A session without its transcript, with what recovery decisions need (``resume``, the sweeper)."""

    model_config = ConfigDict(extra="forbid")

    state: SessionState
    version: int
    lease_expires_at: datetime | None = None
    # The SQS receipt handle of the delivery holding (or last holding) the lease.
    receipt: str | None = None
    outbox: Outbox | None = None
    due_at: datetime | None = None
    pending_inputs: int = 0
    start_hash: str | None = None


class DueSession(BaseModel):
    """A session whose alarm (``due_at``) has passed: something should have moved it by now."""

    model_config = ConfigDict(extra="forbid")

    tenant: Tenant
    session_id: str
    version: int
    due_at: datetime
    lease_expires_at: datetime | None = None
    receipt: str | None = None


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
    # How events are posted to it: this runtime's JSON, or AG-UI events (asked for at $connect).
    encoding: Literal["mozaiks", "agui"] = "mozaiks"
    created_at: datetime
    expires_at: datetime
    # When the connection's token expires (its exp, plus the verifier's leeway): from then on the connection
    # gets no frames handled and no events, and is closed (docs/websocket-protocol.md, "Token expiry").
    token_expires_at: datetime | None = None

    def token_expired(self, now: datetime) -> bool:
        return self.token_expires_at is not None and self.token_expires_at <= now


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
    # How long a session that should be moving may stay still before recovery looks at it (``due_at``).
    @property
    def recovery_grace_seconds(self) -> float: ...

    # How long after a commit that queued a next step only that step's message may claim the session.
    @property
    def outbox_fresh_seconds(self) -> float: ...

    def now(self) -> datetime: ...

    def ensure_indexes(self) -> None: ...

    def create_session(self, state: SessionState, start_hash: str | None = None) -> None: ...

    def header(self, tenant: Tenant, session_id: str) -> SessionHeader: ...

    def get_session(self, tenant: Tenant, session_id: str) -> SessionState:
        """The session without its messages (``messages == []``); see ``history`` for the transcript."""
        ...

    def list_sessions(
        self, tenant: Tenant, *, status: SessionStatus | None = None, limit: int = 50
    ) -> list[SessionSummary]: ...

    def find_input(self, tenant: Tenant, session_id: str, input_id: str) -> RecordedInput | None: ...

    def record_input(
        self, tenant: Tenant, session_id: str, user_input: UserInput, payload_hash: str | None = None
    ) -> RecordedInput: ...

    def claim(
        self,
        tenant: Tenant,
        session_id: str,
        owner: str,
        lease_seconds: float = 60.0,
        receipt: str | None = None,
        delivering: str | None = None,
    ) -> Claim | ClaimRefused: ...

    def renew(self, claim: Claim, lease_seconds: float) -> bool: ...

    def commit(
        self,
        claim: Claim,
        next_state: SessionState,
        new_messages: list[ChatMessage],
        events: list[Event],
        usage: list[UsageRecord],
        consumed_input_ids: list[str],
        *,
        refused_input_ids: list[str] | None = None,
        outbox: Outbox | None = None,
        usage_recorded: bool = False,
    ) -> CommitResult: ...

    def finish_outbox(
        self, tenant: Tenant, session_id: str, outbox_id: str, due_in: float | None
    ) -> bool: ...

    def release(self, claim: Claim, due_in: float | None = None) -> bool: ...

    def record_usage_start(
        self, tenant: Tenant, session_id: str, key: str, agent: str, purpose: str
    ) -> None: ...

    def record_usage(self, tenant: Tenant, record: UsageRecord, key: str) -> bool: ...

    def roll_up(self, tenant: Tenant, usage: list[UsageRecord]) -> None: ...

    def usage_report(
        self, app_id: str, user_id: str | None, span: UsageRange, by: Dimension = "day"
    ) -> UsageReport: ...

    def session_usage(self, tenant: Tenant, session_id: str) -> SessionUsage: ...

    def rebuild_usage_rollups(self, span: UsageRange, app_id: str | None = None) -> int: ...

    def due_sessions(self, limit: int = 100) -> list[DueSession]: ...

    def snooze(self, session_id: str, until: datetime | None) -> None: ...

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
        token_expires_at: datetime | None = None,
        encoding: Literal["mozaiks", "agui"] = "mozaiks",
    ) -> None: ...

    def get_connection(self, connection_id: str) -> Connection | None: ...

    def delete_connection(self, connection_id: str) -> None: ...

    def subscribe(self, tenant: Tenant, connection_id: str, session_id: str) -> None: ...

    def live_connections(self, tenant: Tenant, session_id: str) -> list[str]:
        """The session's subscribers whose record and token are both still valid."""
        ...

    def expired_connections(self, limit: int = 100) -> list[Connection]:
        """Connections whose token has expired (any tenant: the sweeper closes them), oldest expiry first."""
        ...

    def followers(self, tenant: Tenant, session_id: str) -> list[Connection]:
        """The live connections of ``live_connections``, as records (endpoint, encoding), in one read."""
        ...

    def close(self) -> None: ...

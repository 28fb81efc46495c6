"""The persisted session state: the one contract between the engine and the store.

A step starts from a ``SessionState`` read from the store and ends with the next one. Everything the engine
needs to resume exactly lives here. The store keeps ``messages`` in their own append-only collection (one
document per message) and everything else in the session document, so no document grows without bound.

Changing this model means a new ``schema_version`` and a frozen fixture of the old one that must still load
(see ``tests/fixtures/state``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from runtime_core.workflow import Workflow

SCHEMA_VERSION = 1

USER_SPEAKER = "user"


def utcnow() -> datetime:
    """Now, to the millisecond: BSON dates keep no more, so what a client gets live equals what it replays."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class SessionStatus(StrEnum):
    running = "running"
    awaiting_input = "awaiting_input"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (SessionStatus.completed, SessionStatus.cancelled)


class Tenant(BaseModel):
    """Who owns a session. Comes from the verified JWT (through the connection record), never from a frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    # JSON text exactly as the model produced it: replayed byte for byte on resume.
    arguments: str


class ChatMessage(BaseModel):
    """One transcript entry: a user input, an agent reply, or a tool result."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0)
    speaker: str
    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    # The reply exactly as the engine produced it (engine-specific shape); resume replays this.
    raw: Any = None
    turn: int = Field(ge=0, default=0)
    created_at: datetime = Field(default_factory=utcnow)


class InputRequest(BaseModel):
    """What the session waits for when its status is ``awaiting_input``."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    kind: Literal["user_turn", "ui_tool"]
    prompt: str = ""
    agent: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    # For UI tools: what the tool's function returned for the client to render.
    ui: dict[str, Any] | None = None
    # For UI tools: the client component that renders ``ui``, and where (in the chat, or a side panel).
    component: str | None = None
    display: Literal["inline", "artifact"] | None = None


class UserInput(BaseModel):
    """A client's input, recorded idempotently by its client message id before any step runs."""

    model_config = ConfigDict(extra="forbid")

    input_id: str = Field(min_length=1, max_length=128)
    kind: Literal["message", "answer"]
    text: str = ""
    # For answers: which input request this answers, and structured data for UI tools.
    request_id: str | None = None
    data: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=utcnow)


class UsageRecord(BaseModel):
    """One model call. The ledger for downstream billing; app_id/user_id are added by the store."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    agent: str
    model: str
    # The workflow the session runs (the rollups report usage per workflow).
    workflow: str = ""
    purpose: Literal["reply", "speaker_selection", "structured_output"] = "reply"
    prompt_tokens: int = Field(ge=0, default=0)
    completion_tokens: int = Field(ge=0, default=0)
    cost: float = Field(ge=0.0, default=0.0)
    turn: int = Field(ge=0, default=0)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, records: list[UsageRecord]) -> UsageTotals:
        return UsageTotals(
            calls=self.calls + len(records),
            prompt_tokens=self.prompt_tokens + sum(r.prompt_tokens for r in records),
            completion_tokens=self.completion_tokens + sum(r.completion_tokens for r in records),
            cost=self.cost + sum(r.cost for r in records),
        )


class SessionState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    session_id: str = Field(min_length=1, max_length=128)
    app_id: str
    user_id: str
    workflow_name: str
    workflow_hash: str
    status: SessionStatus = SessionStatus.running
    turn: int = Field(ge=0, default=0)
    messages: list[ChatMessage] = Field(default_factory=list)
    context_variables: dict[str, Any] = Field(default_factory=dict)
    # The agent that speaks in the next step (selected ahead, at the end of the previous step).
    next_speaker: str | None = None
    started: bool = False
    pending_input: InputRequest | None = None
    # Engine-private resume data (AG2 counters and flags). Opaque to the store: saved and loaded as is.
    engine: dict[str, Any] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    last_event_seq: int = Field(ge=0, default=0)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def tenant(self) -> Tenant:
        return Tenant(app_id=self.app_id, user_id=self.user_id)


def new_session(
    workflow: Workflow, session_id: str, app_id: str = "local", user_id: str = "local"
) -> SessionState:
    """A fresh session of ``workflow``; its first step starts the run.

    Lives here, not in the engine, so ``$default`` can create sessions without importing AG2 on cold start.
    """
    return SessionState(
        session_id=session_id,
        app_id=app_id,
        user_id=user_id,
        workflow_name=workflow.name,
        workflow_hash=workflow.content_hash,
    )

"""Document shapes of the MongoDB store: ids, tenant filters, and stored documents back into models."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from runtime_core.events import Event, parse_event
from runtime_core.session import (
    ChatMessage,
    SessionState,
    SessionStatus,
    Tenant,
    UserInput,
)

Clock = Callable[[], datetime]

# Fields the store adds to the session document; everything else is SessionState.
STORE_FIELDS = (
    "_id",
    "version",
    "lease",
    "message_count",
    "input_seq",
    "cancel_requested",
    "committed_by",
    "outbox",
    "due_at",
    "start_hash",
    "store_schema",
    "step_count",
    "legacy_messages",
    "legacy_events",
    "pending",
    "refused_inputs",
)
# Store schema 2: a step's messages and events are one document of ``steps``; pending inputs live in the
# session document. Sessions written by schema 1 keep their messages and events where they were
# (``legacy_messages`` / ``legacy_events`` count them) and go on in schema 2.
STORE_SCHEMA = 2
FINAL = [s.value for s in SessionStatus if s.is_final]
SEQ_WIDTH = 10
# Transient failures worth a fresh attempt of the whole commit transaction. mongoeco reports a lost
# write race without the TransientTransactionError label, and its SQLite engine runs one transaction
# at a time.
TRANSIENT_MARKERS = ("Write conflict", "WriteConflict", "already has an active transaction")


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db_name: str = "mozaiks"
    # How long a consumed input's msg_id keeps answering "duplicate" (pending ones never expire). A week:
    # longer than any client keeps a frame to send again after a reconnect.
    idempotency_ttl_seconds: int = Field(default=7 * 86400, gt=0)
    # How long after its last sign of life (a commit, a recorded input) a session that should be moving is
    # looked at by the sweeper (``due_at``); a lease is looked at when it expires.
    recovery_grace_seconds: float = Field(default=30.0, ge=0)
    # How long after a commit that queued a next step only that step's message may claim the session (a live
    # worker posts and queues within milliseconds; past this, its process is presumed dead).
    outbox_fresh_seconds: float = Field(default=10.0, ge=0)
    # API Gateway closes every WebSocket after 2 hours at most.
    connection_ttl_seconds: int = Field(default=7200, gt=0)
    # Retention is off by default; when set, TTL indexes delete events by age and sessions by last activity
    # (messages by age with the session retention). The usage ledger is billing data: never expired here.
    event_retention_seconds: int | None = Field(default=None, gt=0)
    session_retention_seconds: int | None = Field(default=None, gt=0)
    max_subscriptions: int = Field(default=16, gt=0)
    # Messages per batch when a claim reads the transcript: one round trip up to the 16 MiB reply limit.
    read_batch_size: int = Field(default=100_000, gt=0)
    commit_attempts: int = Field(default=8, gt=0)


# Bump when ensure_indexes changes: a database whose marker differs gets its indexes ensured again.
INDEX_VERSION = 4


def connect(uri: str) -> MongoClient[dict[str, Any]]:
    # tz_aware: stored datetimes come back as UTC-aware, like the pydantic models that wrote them.
    return MongoClient(uri, tz_aware=True)


def seq_id(session_id: str, seq: int) -> str:
    return f"{session_id}/{seq:0{SEQ_WIDTH}d}"


def input_key(tenant: Tenant, session_id: str, input_id: str) -> str:
    # JSON keeps the parts apart whatever characters they contain. A msg_id is scoped to its session.
    return json.dumps([tenant.app_id, tenant.user_id, session_id, input_id], separators=(",", ":"))


def legacy_input_key(tenant: Tenant, input_id: str) -> str:
    """Schema v1 keyed inputs by tenant only; such records are still found (and kept) for their session."""
    return json.dumps([tenant.app_id, tenant.user_id, input_id], separators=(",", ":"))


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_transient(error: PyMongoError) -> bool:
    if error.has_error_label("TransientTransactionError"):
        return True
    return any(marker in str(error) for marker in TRANSIENT_MARKERS)


def tenant_filter(tenant: Tenant) -> dict[str, str]:
    return {"app_id": tenant.app_id, "user_id": tenant.user_id}


def state_from_document(doc: Mapping[str, Any], messages: list[ChatMessage] | None = None) -> SessionState:
    """Read a stored session document (schema v1) back into a ``SessionState``."""
    fields = {k: v for k, v in doc.items() if k not in STORE_FIELDS}
    fields["session_id"] = doc["_id"]
    fields["messages"] = messages or []
    for key in ("created_at", "updated_at"):
        if isinstance(fields.get(key), datetime):
            fields[key] = aware(fields[key])
    return SessionState.model_validate(fields)


def step_id(session_id: str, step_no: int) -> str:
    return f"{session_id}/{step_no:0{SEQ_WIDTH}d}"


def _derived(raw: Any) -> dict[str, Any]:
    """What a message's ``content``, ``tool_calls`` and ``tool_call_id`` are when read from its raw reply (the
    engine derives them so): they need not be stored twice."""
    body = raw if isinstance(raw, dict) else {"content": raw}
    content = body.get("content")
    responses = body.get("tool_responses") or []
    calls = body.get("tool_calls") or []
    return {
        "content": content if isinstance(content, str | None) else json.dumps(content),
        "tool_calls": [
            {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"].get("arguments") or ""}
            for c in calls
            if isinstance(c, dict) and isinstance(c.get("function"), dict) and "id" in c
        ],
        "tool_call_id": responses[0].get("tool_call_id")
        if responses and isinstance(responses[0], dict)
        else None,
    }


def compact_message(message: ChatMessage) -> dict[str, Any]:
    """A message as a step document stores it: the raw reply once, the fields derived from it left out when
    deriving them gives the same values (kept otherwise, so nothing is ever lost)."""
    full = message.model_dump(mode="python")
    try:
        derived = _derived(message.raw)
    except (KeyError, TypeError, AttributeError):
        return full
    for name, value in derived.items():
        if full[name] == value:
            del full[name]
    return full


def message_from_compact(stored: Mapping[str, Any]) -> ChatMessage:
    fields = dict(stored)
    missing = {"content", "tool_calls", "tool_call_id"} - fields.keys()
    if missing:
        derived = _derived(fields.get("raw"))
        fields.update({name: derived[name] for name in missing})
    if isinstance(fields.get("created_at"), datetime):
        fields["created_at"] = aware(fields["created_at"])
    return ChatMessage.model_validate(fields)


def event_from_stored(body: Mapping[str, Any]) -> Event:
    fields = dict(body)
    if isinstance(fields.get("ts"), datetime):
        fields["ts"] = aware(fields["ts"])
    return parse_event(fields)


def message_from_document(doc: Mapping[str, Any]) -> ChatMessage:
    message = dict(doc["message"])
    if isinstance(message.get("created_at"), datetime):
        message["created_at"] = aware(message["created_at"])
    return ChatMessage.model_validate(message)


def event_from_document(doc: Mapping[str, Any]) -> Event:
    return event_from_stored(doc["event"])


def input_from_document(doc: Mapping[str, Any]) -> UserInput:
    return input_from_stored(doc["input"])


def input_from_stored(body: Mapping[str, Any]) -> UserInput:
    fields = dict(body)
    if isinstance(fields.get("created_at"), datetime):
        fields["created_at"] = aware(fields["created_at"])
    return UserInput.model_validate(fields)

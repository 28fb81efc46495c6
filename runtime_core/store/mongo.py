"""The MongoDB adapter of the session store (pymongo; MongoDB replica set / Atlas, or the embedded mongoeco).

Layout (one collection per kind of record, none of them grows one document without bound):

- ``sessions``: ``_id`` = session id; all of ``SessionState`` except messages, plus ``version`` (bumped by
  every claim and commit), ``lease`` (owner, token, expiry), ``message_count``, ``input_seq``,
  ``cancel_requested``.
- ``messages`` / ``events``: append-only, ``_id`` = ``"<session_id>/<seq:010d>"``. The ``_id`` index makes
  ``(session_id, seq)`` unique and serves the ordered range read of one session.
- ``inputs``: idempotency records, ``_id`` = JSON of ``[app_id, user_id, input_id]``; ``in_progress`` until
  the commit that consumes them marks them ``completed`` with an ``expires_at`` (TTL).
- ``connections``: ``_id`` = connection id, tenant, bounded ``session_ids``, ``expires_at`` (TTL).
- ``usage`` (one document per model call) and ``usage_daily`` (``$inc`` rollups per app and day, and per
  app, day and model).

Uniqueness rides on ``_id`` rather than compound unique indexes: the guarantee is the same on MongoDB, and
mongoeco checks compound unique indexes by scanning the whole collection on every insert.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from runtime_core.events import Event, parse_event
from runtime_core.session import (
    ChatMessage,
    SessionState,
    SessionStatus,
    Tenant,
    UsageRecord,
    UserInput,
)
from runtime_core.store.protocol import (
    Claim,
    ClaimRefused,
    CommitResult,
    Connection,
    LeaseLost,
    RecordedInput,
    SessionExists,
    SessionNotFound,
    SessionSummary,
    StoreUnavailable,
    TranscriptIncomplete,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Fields the store adds to the session document; everything else is SessionState.
_STORE_FIELDS = ("_id", "version", "lease", "message_count", "input_seq", "cancel_requested", "committed_by")
_FINAL = [s.value for s in SessionStatus if s.is_final]
_SEQ_WIDTH = 10
# Transient failures worth a fresh attempt of the whole commit transaction. mongoeco reports a lost
# write race without the TransientTransactionError label, and its SQLite engine runs one transaction
# at a time.
_TRANSIENT_MARKERS = ("Write conflict", "WriteConflict", "already has an active transaction")


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db_name: str = "mozaiks"
    # How long a completed idempotency record keeps answering "duplicate" (Powertools' default is 1 hour).
    idempotency_ttl_seconds: int = Field(default=3600, gt=0)
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
INDEX_VERSION = 1


def connect(uri: str) -> MongoClient[dict[str, Any]]:
    # tz_aware: stored datetimes come back as UTC-aware, like the pydantic models that wrote them.
    return MongoClient(uri, tz_aware=True)


def _seq_id(session_id: str, seq: int) -> str:
    return f"{session_id}/{seq:0{_SEQ_WIDTH}d}"


def _input_key(tenant: Tenant, input_id: str) -> str:
    # JSON keeps the parts apart whatever characters they contain.
    return json.dumps([tenant.app_id, tenant.user_id, input_id], separators=(",", ":"))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _is_transient(error: PyMongoError) -> bool:
    if error.has_error_label("TransientTransactionError"):
        return True
    return any(marker in str(error) for marker in _TRANSIENT_MARKERS)


def _tenant_filter(tenant: Tenant) -> dict[str, str]:
    return {"app_id": tenant.app_id, "user_id": tenant.user_id}


def state_from_document(doc: Mapping[str, Any], messages: list[ChatMessage] | None = None) -> SessionState:
    """Read a stored session document (schema v1) back into a ``SessionState``."""
    fields = {k: v for k, v in doc.items() if k not in _STORE_FIELDS}
    fields["session_id"] = doc["_id"]
    fields["messages"] = messages or []
    for key in ("created_at", "updated_at"):
        if isinstance(fields.get(key), datetime):
            fields[key] = _aware(fields[key])
    return SessionState.model_validate(fields)


def _message_from_document(doc: Mapping[str, Any]) -> ChatMessage:
    message = dict(doc["message"])
    if isinstance(message.get("created_at"), datetime):
        message["created_at"] = _aware(message["created_at"])
    return ChatMessage.model_validate(message)


def _event_from_document(doc: Mapping[str, Any]) -> Event:
    body = dict(doc["event"])
    if isinstance(body.get("ts"), datetime):
        body["ts"] = _aware(body["ts"])
    return parse_event(body)


def _input_from_document(doc: Mapping[str, Any]) -> UserInput:
    body = dict(doc["input"])
    if isinstance(body.get("created_at"), datetime):
        body["created_at"] = _aware(body["created_at"])
    return UserInput.model_validate(body)


class MongoSessionStore:
    """``SessionStore`` on pymongo. Thread-safe (pymongo clients are); one instance per process is enough."""

    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        settings: StoreSettings | None = None,
        *,
        clock: Clock | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings or StoreSettings()
        self.client = client
        self.db: Database[dict[str, Any]] = client.get_database(self.settings.db_name)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._on_close = on_close
        self.sessions = self.db["sessions"]
        self.messages = self.db["messages"]
        self.events = self.db["events"]
        self.inputs = self.db["inputs"]
        self.connections = self.db["connections"]
        self.usage = self.db["usage"]
        self.usage_daily = self.db["usage_daily"]
        self.meta = self.db["meta"]

    def now(self) -> datetime:
        # BSON dates keep milliseconds: truncate so what we compare is what we stored.
        value = self._clock()
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    # ------------------------------------------------------------------ indexes
    def ensure_indexes(self) -> None:
        """Create or adjust every index; safe to call on each cold start and from deployment scripts."""
        s = self.settings
        self.sessions.create_indexes(
            [
                IndexModel(
                    [("app_id", ASCENDING), ("user_id", ASCENDING), ("updated_at", DESCENDING)],
                    name="tenant_updated",
                ),
                IndexModel(
                    [("app_id", ASCENDING), ("status", ASCENDING), ("updated_at", DESCENDING)],
                    name="app_status",
                ),
            ]
        )
        self.messages.create_indexes(
            [
                IndexModel(
                    [
                        ("app_id", ASCENDING),
                        ("user_id", ASCENDING),
                        ("session_id", ASCENDING),
                        ("seq", ASCENDING),
                    ],
                    name="tenant_session_seq",
                )
            ]
        )
        self.events.create_indexes(
            [
                IndexModel(
                    [
                        ("app_id", ASCENDING),
                        ("user_id", ASCENDING),
                        ("session_id", ASCENDING),
                        ("seq", ASCENDING),
                    ],
                    name="tenant_session_seq",
                )
            ]
        )
        self.inputs.create_indexes(
            [
                IndexModel(
                    [("session_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)],
                    name="session_pending",
                )
            ]
        )
        self.connections.create_indexes(
            [
                IndexModel(
                    [("session_ids", ASCENDING), ("app_id", ASCENDING), ("user_id", ASCENDING)],
                    name="session_subscribers",
                ),
                IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="tenant"),
            ]
        )
        self.usage.create_indexes(
            [
                IndexModel([("app_id", ASCENDING), ("created_at", ASCENDING)], name="app_time"),
                IndexModel(
                    [("app_id", ASCENDING), ("user_id", ASCENDING), ("created_at", ASCENDING)],
                    name="tenant_time",
                ),
                IndexModel([("session_id", ASCENDING)], name="session"),
            ]
        )
        self.usage_daily.create_indexes(
            [IndexModel([("app_id", ASCENDING), ("day", ASCENDING), ("model", ASCENDING)], name="app_day")]
        )
        # expireAfterSeconds=0 on an expires_at field: each document carries its own deadline.
        self._ensure_ttl(self.connections, "expires_at", 0)
        self._ensure_ttl(self.inputs, "expires_at", 0)
        self._ensure_ttl(self.events, "created_at", s.event_retention_seconds)
        self._ensure_ttl(self.sessions, "updated_at", s.session_retention_seconds)
        self._ensure_ttl(self.messages, "created_at", s.session_retention_seconds)

    def _index_fingerprint(self) -> str:
        s = self.settings
        return f"v{INDEX_VERSION}:events={s.event_retention_seconds}:sessions={s.session_retention_seconds}"

    def ensure_indexes_if_needed(self) -> bool:
        """``ensure_indexes`` once per database and index version, not at every cold start: one read when the
        marker matches. Returns True when the indexes were (re)created."""
        fingerprint = self._index_fingerprint()
        marker = self.meta.find_one({"_id": "indexes"})
        if marker is not None and marker.get("fingerprint") == fingerprint:
            return False
        self.ensure_indexes()
        self.meta.replace_one(
            {"_id": "indexes"}, {"fingerprint": fingerprint, "ensured_at": self.now()}, upsert=True
        )
        return True

    def _ensure_ttl(self, collection: Any, field: str, seconds: int | None) -> None:
        name = f"ttl_{field}"
        existing = collection.index_information().get(name)
        if seconds is None:
            if existing is not None:
                collection.drop_index(name)
            return
        if existing is not None and existing.get("expireAfterSeconds") == seconds:
            return
        if existing is not None:
            # Changing a TTL in place (collMod) is not supported everywhere; a drop and create is.
            collection.drop_index(name)
        collection.create_index([(field, ASCENDING)], name=name, expireAfterSeconds=seconds)

    # ------------------------------------------------------------------ sessions
    def create_session(self, state: SessionState) -> None:
        if state.messages:
            raise ValueError("create_session takes a state without messages; commit them in a step")
        doc = state.model_dump(mode="python", exclude={"messages", "session_id"})
        doc.update(
            _id=state.session_id, version=0, lease=None, message_count=0, input_seq=0, cancel_requested=False
        )
        try:
            self.sessions.insert_one(doc)
        except DuplicateKeyError:
            raise SessionExists(state.session_id) from None

    def _session_doc(self, tenant: Tenant, session_id: str, projection: Any = None) -> dict[str, Any]:
        doc = self.sessions.find_one({"_id": session_id, **_tenant_filter(tenant)}, projection)
        if doc is None:
            raise SessionNotFound(session_id)
        return doc

    def get_session(self, tenant: Tenant, session_id: str) -> SessionState:
        return state_from_document(self._session_doc(tenant, session_id))

    def list_sessions(
        self, tenant: Tenant, *, status: SessionStatus | None = None, limit: int = 50
    ) -> list[SessionSummary]:
        query: dict[str, Any] = _tenant_filter(tenant)
        if status is not None:
            query["status"] = status.value
        cursor = self.sessions.find(query).sort("updated_at", DESCENDING).limit(limit)
        return [
            SessionSummary(
                session_id=d["_id"],
                workflow_name=d["workflow_name"],
                status=d["status"],
                turn=d.get("turn", 0),
                message_count=d.get("message_count", 0),
                cancel_requested=bool(d.get("cancel_requested")),
                created_at=_aware(d["created_at"]),
                updated_at=_aware(d["updated_at"]),
            )
            for d in cursor
        ]

    def request_cancel(self, tenant: Tenant, session_id: str) -> None:
        result = self.sessions.update_one(
            {"_id": session_id, **_tenant_filter(tenant)}, {"$set": {"cancel_requested": True}}
        )
        if result.matched_count == 0:
            raise SessionNotFound(session_id)

    # ------------------------------------------------------------------ inputs
    def record_input(self, tenant: Tenant, session_id: str, user_input: UserInput) -> RecordedInput:
        """Record a client input once per (app, user, client message id); a duplicate gives ``new=False``."""
        key = _input_key(tenant, user_input.input_id)
        existing = self.inputs.find_one({"_id": key})
        if existing is not None and not self._expired(existing):
            return self._duplicate(existing)
        # The counter gives pending inputs a total order per session, whichever Lambda recorded them; it also
        # proves the session belongs to this tenant.
        session = self.sessions.find_one_and_update(
            {"_id": session_id, **_tenant_filter(tenant)},
            {"$inc": {"input_seq": 1}},
            projection={"input_seq": 1},
            return_document=ReturnDocument.AFTER,
        )
        if session is None:
            raise SessionNotFound(session_id)
        doc = {
            "_id": key,
            **_tenant_filter(tenant),
            "session_id": session_id,
            "input_id": user_input.input_id,
            "seq": session["input_seq"],
            "status": "in_progress",
            "input": user_input.model_dump(mode="python"),
            "created_at": self.now(),
        }
        if existing is not None:
            # Powertools' "expired" state: the old record no longer guards; replace it if still expired.
            replaced = self.inputs.replace_one({"_id": key, "expires_at": existing.get("expires_at")}, doc)
            if replaced.matched_count == 1:
                return RecordedInput(
                    new=True, status="in_progress", session_id=session_id, input_id=user_input.input_id
                )
        else:
            try:
                self.inputs.insert_one(doc)
                return RecordedInput(
                    new=True, status="in_progress", session_id=session_id, input_id=user_input.input_id
                )
            except DuplicateKeyError:
                pass
        # Lost a race with another recording of the same id: that one is the input.
        winner = self.inputs.find_one({"_id": key})
        if winner is None:  # pragma: no cover - only if the winner expired in between
            raise LeaseLost(f"input {user_input.input_id!r} vanished while recording")
        return self._duplicate(winner)

    def _expired(self, doc: Mapping[str, Any]) -> bool:
        expires_at = doc.get("expires_at")
        return expires_at is not None and _aware(expires_at) <= self.now()

    @staticmethod
    def _duplicate(doc: Mapping[str, Any]) -> RecordedInput:
        return RecordedInput(
            new=False, status=doc["status"], session_id=doc["session_id"], input_id=doc["input_id"]
        )

    # ------------------------------------------------------------------ claim / commit
    def claim(
        self, tenant: Tenant, session_id: str, owner: str, lease_seconds: float = 60.0
    ) -> Claim | ClaimRefused:
        """Take the session's lease if it is free or expired; 3 round trips whatever the history length."""
        now = self.now()
        token = secrets.token_hex(16)
        expires = now + timedelta(seconds=lease_seconds)
        doc = self.sessions.find_one_and_update(
            {
                "_id": session_id,
                **_tenant_filter(tenant),
                "status": {"$nin": _FINAL},
                "$or": [{"lease": None}, {"lease.expires_at": {"$lte": now}}],
            },
            {
                "$set": {"lease": {"owner": owner, "token": token, "expires_at": expires}},
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return self._refusal(tenant, session_id)
        messages = [
            _message_from_document(m)
            for m in self.messages.find({"session_id": session_id, **_tenant_filter(tenant)})
            .sort("_id", ASCENDING)
            .batch_size(self.settings.read_batch_size)
        ]
        if len(messages) != doc.get("message_count", 0):
            # A partial transcript would resume a different conversation: refuse loudly instead.
            self._release(session_id, doc["version"], token)
            expected = doc.get("message_count", 0)
            raise TranscriptIncomplete(
                f"session {session_id!r}: {len(messages)} of {expected} messages stored"
            )
        pending = [
            _input_from_document(i)
            for i in self.inputs.find(
                {"session_id": session_id, **_tenant_filter(tenant), "status": "in_progress"}
            ).sort("seq", ASCENDING)
        ]
        return Claim(
            tenant=tenant,
            session_id=session_id,
            owner=owner,
            token=token,
            version=doc["version"],
            lease_expires_at=expires,
            state=state_from_document(doc, messages),
            pending_inputs=pending,
            cancel_requested=bool(doc.get("cancel_requested")),
            message_count=len(messages),
        )

    def _refusal(self, tenant: Tenant, session_id: str) -> ClaimRefused:
        doc = self.sessions.find_one({"_id": session_id, **_tenant_filter(tenant)}, {"status": 1, "lease": 1})
        if doc is None:
            return ClaimRefused(reason="not_found")
        if doc["status"] in _FINAL:
            return ClaimRefused(reason="finished")
        lease = doc.get("lease") or {}
        expires = lease.get("expires_at")
        return ClaimRefused(reason="leased", lease_expires_at=_aware(expires) if expires else None)

    def commit(
        self,
        claim: Claim,
        next_state: SessionState,
        new_messages: list[ChatMessage],
        events: list[Event],
        usage: list[UsageRecord],
        consumed_input_ids: list[str],
    ) -> CommitResult:
        """Persist one step atomically if the claim still holds; else raise ``LeaseLost``, writing nothing.

        One transaction whose first write is the compare-and-set on the session (version + lease token): if it
        matches nothing the transaction is aborted; if a concurrent writer touches the session, the
        transaction conflicts and is retried from the compare-and-set.
        """
        self._check_step(claim, next_state, new_messages, events, usage)
        now = self.now()
        tenant = claim.tenant
        state = next_state.model_dump(mode="python", exclude={"messages", "session_id", "created_at"})
        state["updated_at"] = now
        message_docs = [
            {
                "_id": _seq_id(claim.session_id, m.seq),
                **_tenant_filter(tenant),
                "session_id": claim.session_id,
                "seq": m.seq,
                "created_at": now,
                "message": m.model_dump(mode="python"),
            }
            for m in new_messages
        ]
        event_docs = [
            {
                "_id": _seq_id(claim.session_id, e.seq),
                **_tenant_filter(tenant),
                "session_id": claim.session_id,
                "seq": e.seq,
                "type": e.type,
                "created_at": now,
                "event": e.model_dump(mode="python"),
            }
            for e in events
        ]
        usage_docs = [
            {**_tenant_filter(tenant), **u.model_dump(mode="python"), "total_tokens": u.total_tokens}
            for u in usage
        ]
        input_keys = [_input_key(tenant, i) for i in consumed_input_ids]
        version = claim.version + 1
        message_count = claim.message_count + len(new_messages)

        def write(session: ClientSession) -> None:
            cas = self.sessions.update_one(
                {
                    "_id": claim.session_id,
                    **_tenant_filter(tenant),
                    "version": claim.version,
                    "lease.token": claim.token,
                },
                {
                    "$set": {
                        **state,
                        "version": version,
                        "lease": None,
                        "message_count": message_count,
                        "committed_by": claim.token,
                    }
                },
                session=session,
            )
            if cas.matched_count == 0:
                raise LeaseLost(f"session {claim.session_id!r}: claim {claim.version} no longer holds")
            if message_docs:
                self.messages.insert_many(message_docs, session=session)
            if event_docs:
                self.events.insert_many(event_docs, session=session)
            if usage_docs:
                self.usage.insert_many(usage_docs, session=session)
            if input_keys:
                self.inputs.update_many(
                    {"_id": {"$in": input_keys}, "status": "in_progress"},
                    {
                        "$set": {
                            "status": "completed",
                            "completed_at": now,
                            "expires_at": now + timedelta(seconds=self.settings.idempotency_ttl_seconds),
                        }
                    },
                    session=session,
                )

        try:
            self._transaction(write)
        except LeaseLost:
            # After a commit whose outcome was unknown (a network error on commitTransaction), the retry finds
            # the version moved: by our own commit if the marker is ours, and then the step is stored.
            if self.sessions.count_documents({"_id": claim.session_id, "committed_by": claim.token}, limit=1):
                log.info("commit of session %s had landed before the retry", claim.session_id)
            else:
                raise
        self._roll_up(tenant, usage)
        return CommitResult(
            version=version, message_count=message_count, last_event_seq=next_state.last_event_seq
        )

    @staticmethod
    def _check_step(
        claim: Claim,
        next_state: SessionState,
        new_messages: list[ChatMessage],
        events: list[Event],
        usage: list[UsageRecord],
    ) -> None:
        """Reject a malformed step before anything is written: an engine bug must not become stored data."""
        if next_state.session_id != claim.session_id or next_state.tenant != claim.tenant:
            raise ValueError("next_state belongs to another session or tenant")
        last = claim.state.messages[-1].seq if claim.state.messages else -1
        for message in new_messages:
            if message.seq <= last:
                raise ValueError(f"message seq {message.seq} does not follow {last}")
            last = message.seq
        expected = claim.state.last_event_seq
        for event in events:
            expected += 1
            if event.seq != expected or event.session_id != claim.session_id:
                raise ValueError(f"event seq {event.seq} (session {event.session_id}) breaks the numbering")
        if next_state.last_event_seq != expected:
            raise ValueError(
                f"next_state.last_event_seq is {next_state.last_event_seq}, events end at {expected}"
            )
        if any(u.session_id != claim.session_id for u in usage):
            raise ValueError("usage record of another session")

    def _transaction(self, write: Callable[[ClientSession], None]) -> None:
        attempts = self.settings.commit_attempts
        for attempt in range(1, attempts + 1):
            try:
                with self.client.start_session() as session, session.start_transaction():
                    write(session)
                return
            except LeaseLost:
                raise
            except OperationFailure as error:
                if error.code == 20 or "replica set" in str(error):
                    raise StoreUnavailable(
                        "MongoDB transactions need a replica set (Atlas, or mongod --replSet)"
                    ) from error
                if not _is_transient(error) or attempt == attempts:
                    raise
            except PyMongoError as error:
                if not _is_transient(error) or attempt == attempts:
                    raise
            # Jittered backoff: the other writer needs a moment to finish its transaction.
            time.sleep(random.uniform(0.005, 0.02) * attempt)

    def _roll_up(self, tenant: Tenant, usage: list[UsageRecord]) -> None:
        """Per-app daily rollups, after the transaction: one hot document per app and day would make every
        concurrent commit of that app conflict. The ``usage`` ledger (in the transaction) stays the source of
        truth; a crash between the two leaves a rollup short, rebuildable from the ledger."""
        if not usage:
            return
        totals: dict[tuple[str, str | None], dict[str, float]] = {}
        for u in usage:
            day = _aware(u.created_at).astimezone(UTC).strftime("%Y-%m-%d")
            for model in (None, u.model):
                t = totals.setdefault(
                    (day, model), {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
                )
                t["calls"] += 1
                t["prompt_tokens"] += u.prompt_tokens
                t["completion_tokens"] += u.completion_tokens
                t["cost"] += u.cost
        ops = [
            UpdateOne(
                {"_id": json.dumps([tenant.app_id, day, model], separators=(",", ":"))},
                {"$inc": inc, "$setOnInsert": {"app_id": tenant.app_id, "day": day, "model": model}},
                upsert=True,
            )
            for (day, model), inc in totals.items()
        ]
        try:
            self.usage_daily.bulk_write(ops, ordered=False)
        except PyMongoError:
            log.exception("usage rollup failed for app %s; the usage ledger is complete", tenant.app_id)

    def release(self, claim: Claim) -> bool:
        """Give the lease back without writing the step (the step failed); False if it was already lost."""
        return self._release(claim.session_id, claim.version, claim.token)

    def _release(self, session_id: str, version: int, token: str) -> bool:
        result = self.sessions.update_one(
            {"_id": session_id, "version": version, "lease.token": token}, {"$set": {"lease": None}}
        )
        return result.matched_count == 1

    # ------------------------------------------------------------------ replay and history
    def events_after(self, tenant: Tenant, session_id: str, after_seq: int, limit: int = 500) -> list[Event]:
        docs = list(
            self.events.find({**_tenant_filter(tenant), "session_id": session_id, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        if not docs:
            # Only an empty answer needs the extra read that tells "nothing new" from "no such session".
            self._session_doc(tenant, session_id, {"_id": 1})
        return [_event_from_document(d) for d in docs]

    def history(
        self, tenant: Tenant, session_id: str, *, after_seq: int = -1, limit: int = 1000
    ) -> list[ChatMessage]:
        docs = list(
            self.messages.find(
                {**_tenant_filter(tenant), "session_id": session_id, "seq": {"$gt": after_seq}}
            )
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        if not docs:
            self._session_doc(tenant, session_id, {"_id": 1})
        return [_message_from_document(d) for d in docs]

    # ------------------------------------------------------------------ connections
    def put_connection(
        self,
        connection_id: str,
        tenant: Tenant,
        ttl_seconds: float | None = None,
        endpoint: str | None = None,
    ) -> None:
        now = self.now()
        ttl = ttl_seconds if ttl_seconds is not None else self.settings.connection_ttl_seconds
        self.connections.replace_one(
            {"_id": connection_id},
            {
                **_tenant_filter(tenant),
                "session_ids": [],
                "endpoint": endpoint,
                "created_at": now,
                "expires_at": now + timedelta(seconds=ttl),
            },
            upsert=True,
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        doc = self.connections.find_one({"_id": connection_id, "expires_at": {"$gt": self.now()}})
        if doc is None:
            return None
        return Connection(
            connection_id=doc["_id"],
            tenant=Tenant(app_id=doc["app_id"], user_id=doc["user_id"]),
            session_ids=doc.get("session_ids", []),
            endpoint=doc.get("endpoint"),
            created_at=_aware(doc["created_at"]),
            expires_at=_aware(doc["expires_at"]),
        )

    def delete_connection(self, connection_id: str) -> None:
        self.connections.delete_one({"_id": connection_id})

    def subscribe(self, tenant: Tenant, connection_id: str, session_id: str) -> None:
        """Add a session to the connection's bounded list (oldest dropped first)."""
        self._session_doc(tenant, session_id, {"_id": 1})
        result = self.connections.update_one(
            {"_id": connection_id, **_tenant_filter(tenant), "session_ids": {"$ne": session_id}},
            {"$push": {"session_ids": {"$each": [session_id], "$slice": -self.settings.max_subscriptions}}},
        )
        if (
            result.matched_count == 0
            and self.connections.count_documents({"_id": connection_id, **_tenant_filter(tenant)}, limit=1)
            == 0
        ):
            raise LookupError(f"connection {connection_id!r} not found")

    def live_connections(self, tenant: Tenant, session_id: str) -> list[str]:
        return [
            d["_id"]
            for d in self.connections.find(
                {"session_ids": session_id, **_tenant_filter(tenant), "expires_at": {"$gt": self.now()}},
                {"_id": 1},
            )
        ]

    def close(self) -> None:
        self.client.close()
        if self._on_close is not None:
            self._on_close()

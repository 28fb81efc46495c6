"""Sessions: creation, lookups, lists, cancel requests; replay of events and the transcript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from runtime_core.events import Event
from runtime_core.session import (
    ChatMessage,
    SessionState,
    SessionStatus,
    Tenant,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    STORE_SCHEMA,
    aware,
    state_from_document,
    tenant_filter,
)
from runtime_core.store.protocol import (
    SessionExists,
    SessionNotFound,
    SessionSummary,
)


class SessionsMixin(StoreBase):
    # ------------------------------------------------------------------ sessions
    def create_session(self, state: SessionState, start_hash: str | None = None) -> None:
        """Insert a new session. ``start_hash`` is the hash of the start frame that created it: a start sent
        again with the same msg_id is a retry if its hash matches, a reuse of the msg_id if not. The session's
        alarm is set: if the start step that the caller queues next is lost, the sweeper queues it again."""
        if state.messages:
            raise ValueError("create_session takes a state without messages; commit them in a step")
        doc = state.model_dump(mode="python", exclude={"messages", "session_id"})
        doc.update(
            _id=state.session_id,
            version=0,
            lease=None,
            message_count=0,
            input_seq=0,
            cancel_requested=False,
            start_hash=start_hash,
            store_schema=STORE_SCHEMA,
            step_count=0,
            legacy_messages=0,
            legacy_events=0,
            pending=[],
            refused_inputs=[],
            outbox=None,
            due_at=self.now() + timedelta(seconds=self.settings.recovery_grace_seconds),
        )
        try:
            self.sessions.insert_one(doc)
        except DuplicateKeyError:
            raise SessionExists(state.session_id) from None

    def _session_doc(self, tenant: Tenant, session_id: str, projection: Any = None) -> dict[str, Any]:
        doc = self.sessions.find_one({"_id": session_id, **tenant_filter(tenant)}, projection)
        if doc is None:
            raise SessionNotFound(session_id)
        return doc

    def get_session(self, tenant: Tenant, session_id: str) -> SessionState:
        return state_from_document(self._session_doc(tenant, session_id))

    def list_sessions(
        self, tenant: Tenant, *, status: SessionStatus | None = None, limit: int = 50
    ) -> list[SessionSummary]:
        query: dict[str, Any] = tenant_filter(tenant)
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
                created_at=aware(d["created_at"]),
                updated_at=aware(d["updated_at"]),
            )
            for d in cursor
        ]

    def request_cancel(self, tenant: Tenant, session_id: str) -> None:
        result = self.sessions.update_one(
            {"_id": session_id, **tenant_filter(tenant)}, {"$set": {"cancel_requested": True}}
        )
        if result.matched_count == 0:
            raise SessionNotFound(session_id)

    # ------------------------------------------------------------------ replay and history
    # The header first (it says which step documents count, and proves the session is the tenant's), then the
    # steps: two reads whatever the history length.
    _HEADER_FIELDS = {"step_count": 1, "legacy_messages": 1, "legacy_events": 1, "store_schema": 1}

    def events_after(self, tenant: Tenant, session_id: str, after_seq: int, limit: int = 500) -> list[Event]:
        doc = self._session_doc(tenant, session_id, {**self._HEADER_FIELDS, "last_event_seq": 1})
        return self.events_in(tenant, doc, after_seq, limit)  # type: ignore[attr-defined, no-any-return]

    def history(
        self, tenant: Tenant, session_id: str, *, after_seq: int = -1, limit: int = 1000
    ) -> list[ChatMessage]:
        doc = self._session_doc(tenant, session_id, {**self._HEADER_FIELDS, "message_count": 1})
        return self.messages_in(tenant, doc, after_seq, limit)  # type: ignore[attr-defined, no-any-return]

"""Sessions: creation, lookups, lists, cancel requests; replay of events and the transcript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
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
    aware,
    event_from_document,
    message_from_document,
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
    def events_after(self, tenant: Tenant, session_id: str, after_seq: int, limit: int = 500) -> list[Event]:
        docs = list(
            self.events.find({**tenant_filter(tenant), "session_id": session_id, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        if not docs:
            # Only an empty answer needs the extra read that tells "nothing new" from "no such session".
            self._session_doc(tenant, session_id, {"_id": 1})
        return [event_from_document(d) for d in docs]

    def history(
        self, tenant: Tenant, session_id: str, *, after_seq: int = -1, limit: int = 1000
    ) -> list[ChatMessage]:
        docs = list(
            self.messages.find({**tenant_filter(tenant), "session_id": session_id, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        if not docs:
            self._session_doc(tenant, session_id, {"_id": 1})
        return [message_from_document(d) for d in docs]

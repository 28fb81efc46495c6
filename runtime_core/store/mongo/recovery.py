"""What recovery reads and writes: a session's header, its outbox, and its alarm (``due_at``).

``due_at`` is set whenever a session should move again soon (a new session, a recorded input, a commit with
work left, a claim: to its lease's expiry) and cleared when it has nothing left to do. A session whose alarm
has passed is one that something should have moved by now: a lost queue message, a process that died
mid-step or between its commit and its posts. The sweeper lists them (``due_sessions``, one indexed query)
and re-arms them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from runtime_core.session import Tenant
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import FINAL, aware, state_from_document, tenant_filter
from runtime_core.store.protocol import DueSession, Outbox, SessionHeader


class RecoveryMixin(StoreBase):
    def header(self, tenant: Tenant, session_id: str) -> SessionHeader:
        """The session without its transcript: its lease, outbox, alarm, and how many inputs are pending."""
        doc = self._session_doc(tenant, session_id)  # type: ignore[attr-defined]
        lease = doc.get("lease") or {}
        if "pending" in doc:
            pending = len(doc["pending"])
        else:  # store schema 1: the records are the pending list
            pending = self.inputs.count_documents(
                {**tenant_filter(tenant), "session_id": session_id, "status": "in_progress"}
            )
        return SessionHeader(
            state=state_from_document(doc),
            version=doc.get("version", 0),
            lease_expires_at=aware(lease["expires_at"]) if lease.get("expires_at") else None,
            receipt=lease.get("receipt"),
            outbox=Outbox.model_validate(doc["outbox"]) if doc.get("outbox") else None,
            due_at=aware(doc["due_at"]) if doc.get("due_at") else None,
            pending_inputs=pending,
            start_hash=doc.get("start_hash"),
        )

    def finish_outbox(self, tenant: Tenant, session_id: str, outbox_id: str, due_in: float | None) -> bool:
        """Clear the outbox once its posts are made and its next step is queued. Only that outbox: a newer
        step may have committed its own meanwhile. ``due_in``: when to look at the session again (None: only
        when something new happens, e.g. the session waits for the user)."""
        due_at = self.now() + timedelta(seconds=due_in) if due_in is not None else None
        result = self.sessions.update_one(
            {"_id": session_id, **tenant_filter(tenant), "outbox.id": outbox_id},
            {"$set": {"outbox": None, "due_at": due_at}},
        )
        return result.matched_count == 1

    def due_sessions(self, limit: int = 100) -> list[DueSession]:
        """Sessions whose alarm has passed, oldest first. Finished sessions are included while they still have
        an outbox (their last events may not have been posted)."""
        now = self.now()
        cursor = (
            self.sessions.find(
                # $ne None first: an embedded mongoeco compares null with dates (MongoDB does not).
                {"$and": [{"due_at": {"$ne": None}}, {"due_at": {"$lte": now}}]},
                {"app_id": 1, "user_id": 1, "version": 1, "due_at": 1, "lease": 1, "status": 1, "outbox": 1},
            )
            .sort("due_at", 1)
            .limit(limit)
        )
        due = []
        for doc in cursor:
            if doc.get("status") in FINAL and not doc.get("outbox"):
                continue
            lease = doc.get("lease") or {}
            due.append(
                DueSession(
                    tenant=Tenant(app_id=doc["app_id"], user_id=doc["user_id"]),
                    session_id=doc["_id"],
                    version=doc.get("version", 0),
                    due_at=aware(doc["due_at"]),
                    lease_expires_at=aware(lease["expires_at"]) if lease.get("expires_at") else None,
                    receipt=lease.get("receipt"),
                )
            )
        return due

    def snooze(self, session_id: str, until: datetime | None) -> None:
        """Move a session's alarm (the sweeper, after re-arming it: look again if that did not help)."""
        self.sessions.update_one({"_id": session_id}, {"$set": {"due_at": until}})

"""Client inputs: pending in the session document (a claim reads them with the header), and one idempotency
record per (tenant, session, msg_id) that keeps the hash of the frame that created it.

An input is ``in_progress`` while it is in the session's pending list, ``refused`` when a step refused it (its
msg_id may be used again by the corrected input), ``completed`` otherwise (consumed). The record answers
"duplicate" for ``idempotency_ttl_seconds`` after it was written; pending inputs do not depend on it.

Sessions written by store schema 1 kept pending inputs in the records themselves (with their status); they
are read from there until the session's next commit moves them into the session document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from runtime_core.session import Tenant, UserInput
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import aware, input_key, legacy_input_key, tenant_filter
from runtime_core.store.protocol import LeaseLost, RecordedInput, SessionNotFound, TooManyPending

# Pending inputs a session holds at most: a client flooding a running session is refused past it.
MAX_PENDING = 100


class InputsMixin(StoreBase):
    def find_input(self, tenant: Tenant, session_id: str, input_id: str) -> RecordedInput | None:
        """The live record of ``input_id`` in this session (not an expired one), or None."""
        doc = self._find_input(tenant, session_id, input_id)
        if doc is None or self._expired(doc):
            return None
        return self._with_status(tenant, doc, new=False)

    def _find_input(self, tenant: Tenant, session_id: str, input_id: str) -> dict[str, Any] | None:
        """The stored record, expired or not (MongoDB's TTL monitor removes expired ones only eventually)."""
        keys = [input_key(tenant, session_id, input_id), legacy_input_key(tenant, input_id)]
        query = {"_id": {"$in": keys}, "session_id": session_id, **tenant_filter(tenant)}
        docs = list(self.inputs.find(query))
        return docs[0] if docs else None

    def _with_status(self, tenant: Tenant, record: Mapping[str, Any], new: bool) -> RecordedInput:
        """The record with its status as the session says it now (schema 1 records carry their own)."""
        status = record["status"]
        if status == "in_progress":
            header = self.sessions.find_one(
                {"_id": record["session_id"], **tenant_filter(tenant)},
                {"pending.input_id": 1, "refused_inputs": 1},
            )
            if header is not None and "pending" in header:
                input_id = record["input_id"]
                if any(p.get("input_id") == input_id for p in header["pending"]):
                    status = "in_progress"
                elif input_id in (header.get("refused_inputs") or []):
                    status = "refused"
                else:
                    status = "completed"
        return RecordedInput(
            new=new,
            status=status,
            session_id=record["session_id"],
            input_id=record["input_id"],
            payload_hash=record.get("payload_hash"),
        )

    def record_input(
        self, tenant: Tenant, session_id: str, user_input: UserInput, payload_hash: str | None = None
    ) -> RecordedInput:
        """Record a client input once per (tenant, session, msg_id); a msg_id already used gives ``new=False``
        (with the first use's ``payload_hash``), unless its record was refused or expired: then this input
        takes the msg_id over.

        The input goes into the session's pending list first, then its record is written: a crash in between
        leaves a pending input without a record, which a resent frame completes (the list never holds an
        id twice); the other order could leave a record of an input no step will ever see.
        """
        existing = self._find_input(tenant, session_id, user_input.input_id)
        if existing is not None:
            current = self._with_status(tenant, existing, new=False)
            if current.status != "refused" and not self._expired(existing):
                return current
        now = self.now()
        seq = self._push_pending(tenant, session_id, user_input, now)
        key = existing["_id"] if existing is not None else input_key(tenant, session_id, user_input.input_id)
        doc = {
            "_id": key,
            **tenant_filter(tenant),
            "session_id": session_id,
            "input_id": user_input.input_id,
            "seq": seq,
            "status": "in_progress",
            "payload_hash": payload_hash,
            "input": user_input.model_dump(mode="python"),
            "created_at": now,
            "expires_at": now + timedelta(seconds=self.settings.idempotency_ttl_seconds),
        }
        if existing is not None:
            # Take a refused or expired record over, only if it still is (a concurrent retry may have won).
            replaced = self.inputs.replace_one(
                {"_id": key, "status": existing["status"], "expires_at": existing.get("expires_at")}, doc
            )
            if replaced.matched_count == 1:
                return self._recorded(doc, new=True)
        else:
            try:
                self.inputs.insert_one(doc)
                return self._recorded(doc, new=True)
            except DuplicateKeyError:
                pass
        # Lost a race with another recording of the same id: that one is the input.
        winner = self.inputs.find_one({"_id": key})
        if winner is None:  # pragma: no cover - only if the winner expired in between
            raise LeaseLost(f"input {user_input.input_id!r} vanished while recording")
        return self._with_status(tenant, winner, new=False)

    def _push_pending(self, tenant: Tenant, session_id: str, user_input: UserInput, now: Any) -> int:
        """Append the input to the session's pending list (never twice); its position in the session's input
        order. An input is news for the sweeper: the session is looked at again after the grace period."""
        due = now + timedelta(seconds=self.settings.recovery_grace_seconds)
        owned = {"_id": session_id, **tenant_filter(tenant)}
        session = self.sessions.find_one_and_update(
            {
                **owned,
                "pending": {"$exists": True},
                "pending.input_id": {"$ne": user_input.input_id},
                # Fewer than MAX_PENDING entries: the list's last allowed index is still free.
                f"pending.{MAX_PENDING - 1}": {"$exists": False},
            },
            {
                "$inc": {"input_seq": 1},
                "$set": {"due_at": due},
                "$push": {"pending": user_input.model_dump(mode="python")},
            },
            projection={"input_seq": 1},
            return_document=ReturnDocument.AFTER,
        )
        if session is not None:
            return int(session["input_seq"])
        # Not pushed: a schema 1 session (no pending list: its record is the pending input), the input is
        # pending already (a retry), or no such session for this tenant.
        session = self.sessions.find_one_and_update(
            owned,
            {"$inc": {"input_seq": 1}, "$set": {"due_at": due}},
            projection={"input_seq": 1, "pending": 1},
            return_document=ReturnDocument.AFTER,
        )
        if session is None:
            raise SessionNotFound(session_id)
        pending = session.get("pending")
        full = pending is not None and len(pending) >= MAX_PENDING
        if full and all(p.get("input_id") != user_input.input_id for p in pending):
            raise TooManyPending(session_id, MAX_PENDING)
        return int(session["input_seq"])

    def _expired(self, doc: Mapping[str, Any]) -> bool:
        expires_at = doc.get("expires_at")
        return expires_at is not None and aware(expires_at) <= self.now()

    @staticmethod
    def _recorded(doc: Mapping[str, Any], new: bool) -> RecordedInput:
        return RecordedInput(
            new=new,
            status=doc["status"],
            session_id=doc["session_id"],
            input_id=doc["input_id"],
            payload_hash=doc.get("payload_hash"),
        )

"""Client inputs: idempotency records keyed by (tenant, session, msg_id), pending until a step consumes them.

A record is ``in_progress`` (pending: a step will consume it), ``completed`` (consumed; it keeps answering
"duplicate" for ``idempotency_ttl_seconds``, then expires) or ``refused`` (a step refused it: the msg_id may
be used again, by the corrected input). Each record keeps the hash of the frame that created it, so a retry
(same payload) is told from a reuse of the msg_id for something else.
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
from runtime_core.store.protocol import LeaseLost, RecordedInput, SessionNotFound


class InputsMixin(StoreBase):
    def find_input(self, tenant: Tenant, session_id: str, input_id: str) -> RecordedInput | None:
        """The live record of ``input_id`` in this session (not an expired one), or None. One round trip."""
        doc = self._find_input(tenant, session_id, input_id)
        if doc is None or self._expired(doc):
            return None
        return self._recorded(doc, new=False)

    def _find_input(self, tenant: Tenant, session_id: str, input_id: str) -> dict[str, Any] | None:
        """The stored record, expired or not (MongoDB's TTL monitor removes expired ones only eventually)."""
        keys = [input_key(tenant, session_id, input_id), legacy_input_key(tenant, input_id)]
        docs = list(
            self.inputs.find({"_id": {"$in": keys}, "session_id": session_id, **tenant_filter(tenant)})
        )
        return docs[0] if docs else None

    def record_input(
        self, tenant: Tenant, session_id: str, user_input: UserInput, payload_hash: str | None = None
    ) -> RecordedInput:
        """Record a client input once per (tenant, session, msg_id); a msg_id already used gives ``new=False``
        (with the first use's ``payload_hash``), unless its record was refused or expired: then this input
        takes the msg_id over."""
        existing = self._find_input(tenant, session_id, user_input.input_id)
        reusable = existing is not None and (existing.get("status") == "refused" or self._expired(existing))
        if existing is not None and not reusable:
            return self._recorded(existing, new=False)
        # The counter gives pending inputs a total order per session, whichever Lambda recorded them; it also
        # proves the session belongs to this tenant. An input is news for the sweeper: look again after grace.
        now = self.now()
        session = self.sessions.find_one_and_update(
            {"_id": session_id, **tenant_filter(tenant)},
            {
                "$inc": {"input_seq": 1},
                "$set": {"due_at": now + timedelta(seconds=self.settings.recovery_grace_seconds)},
            },
            projection={"input_seq": 1},
            return_document=ReturnDocument.AFTER,
        )
        if session is None:
            raise SessionNotFound(session_id)
        key = existing["_id"] if existing is not None else input_key(tenant, session_id, user_input.input_id)
        doc = {
            "_id": key,
            **tenant_filter(tenant),
            "session_id": session_id,
            "input_id": user_input.input_id,
            "seq": session["input_seq"],
            "status": "in_progress",
            "payload_hash": payload_hash,
            "input": user_input.model_dump(mode="python"),
            "created_at": now,
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
        return self._recorded(winner, new=False)

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

"""Client inputs: idempotency records, pending until a step consumes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from runtime_core.session import (
    Tenant,
    UserInput,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    aware,
    input_key,
    tenant_filter,
)
from runtime_core.store.protocol import (
    LeaseLost,
    RecordedInput,
    SessionNotFound,
)


class InputsMixin(StoreBase):
    # ------------------------------------------------------------------ inputs
    def record_input(self, tenant: Tenant, session_id: str, user_input: UserInput) -> RecordedInput:
        """Record a client input once per (app, user, client message id); a duplicate gives ``new=False``."""
        key = input_key(tenant, user_input.input_id)
        existing = self.inputs.find_one({"_id": key})
        if existing is not None and not self._expired(existing):
            return self._duplicate(existing)
        # The counter gives pending inputs a total order per session, whichever Lambda recorded them; it also
        # proves the session belongs to this tenant.
        session = self.sessions.find_one_and_update(
            {"_id": session_id, **tenant_filter(tenant)},
            {"$inc": {"input_seq": 1}},
            projection={"input_seq": 1},
            return_document=ReturnDocument.AFTER,
        )
        if session is None:
            raise SessionNotFound(session_id)
        doc = {
            "_id": key,
            **tenant_filter(tenant),
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
        return expires_at is not None and aware(expires_at) <= self.now()

    @staticmethod
    def _duplicate(doc: Mapping[str, Any]) -> RecordedInput:
        return RecordedInput(
            new=False, status=doc["status"], session_id=doc["session_id"], input_id=doc["input_id"]
        )

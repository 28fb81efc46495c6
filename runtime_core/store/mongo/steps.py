"""Claiming a session for one step (the one-writer guarantee), renewing and releasing the claim."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from runtime_core.session import (
    ChatMessage,
    Tenant,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    FINAL,
    aware,
    input_from_document,
    input_from_stored,
    state_from_document,
    tenant_filter,
)
from runtime_core.store.mongo.reading import (
    ReadingMixin,
    legacy_events_of,
    legacy_messages_of,
    step_count_of,
)
from runtime_core.store.protocol import (
    Claim,
    ClaimRefused,
    Outbox,
    TranscriptIncomplete,
)

log = logging.getLogger(__name__)


class StepsMixin(ReadingMixin, StoreBase):
    # ------------------------------------------------------------------ claim / commit
    def claim(
        self,
        tenant: Tenant,
        session_id: str,
        owner: str,
        lease_seconds: float = 60.0,
        receipt: str | None = None,
        delivering: str | None = None,
    ) -> Claim | ClaimRefused:
        """Take the session's lease if it is free or expired: one round trip when this container holds the
        transcript already, two otherwise (the steps it lacks), whatever the history length.

        ``receipt`` (the SQS receipt handle of the delivery) is kept with the lease: if this process dies, the
        sweeper makes that message visible again at once instead of after the queue's visibility timeout.
        The session's alarm is set to the lease's expiry: a step that dies is looked at right after it.

        ``delivering``: the deduplication id of the step message this claim serves. While a chain is in flight
        (the last commit queued a next step moments ago), only that next step's message may claim: another
        message (an input, a re-arm) would find the chain's outbox and post its events a second time; the
        chain consumes inputs itself, and a dead chain is re-armed once its outbox is no longer fresh.
        """
        now = self.now()
        token = secrets.token_hex(16)
        expires = now + timedelta(seconds=lease_seconds)
        free = {"$or": [{"lease": None}, {"lease.expires_at": {"$lte": now}}]}
        query: dict[str, Any] = {
            "_id": session_id,
            **tenant_filter(tenant),
            "status": {"$nin": FINAL},
        }
        if delivering is None:
            query.update(free)
        else:
            fresh_since = now - timedelta(seconds=self.settings.outbox_fresh_seconds)
            not_in_flight = {
                "$or": [
                    {"outbox": None},
                    {"outbox.next": None},
                    {"outbox.next.dedup_id": delivering},
                    {"outbox.by": delivering},
                    {"updated_at": {"$lte": fresh_since}},
                ]
            }
            query["$and"] = [free, not_in_flight]
        doc = self.sessions.find_one_and_update(
            query,
            {
                "$set": {
                    "lease": {"owner": owner, "token": token, "expires_at": expires, "receipt": receipt},
                    "due_at": expires,
                },
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return self._refusal(tenant, session_id, now)
        messages = self._claimed_transcript(tenant, doc)
        if len(messages) != doc.get("message_count", 0):
            # A partial transcript would resume a different conversation: refuse loudly instead.
            self._release(session_id, doc["version"], token)
            self.transcripts.forget(session_id)
            expected = doc.get("message_count", 0)
            raise TranscriptIncomplete(
                f"session {session_id!r}: {len(messages)} of {expected} messages stored"
            )
        embedded = "pending" in doc
        if embedded:
            pending = [input_from_stored(i) for i in doc["pending"]]
        else:
            # Schema 1 kept pending inputs in their own collection; the next commit moves them here.
            pending = [
                input_from_document(i)
                for i in self.inputs.find(
                    {"session_id": session_id, **tenant_filter(tenant), "status": "in_progress"}
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
            outbox=Outbox.model_validate(doc["outbox"]) if doc.get("outbox") else None,
            step_count=step_count_of(doc),
            legacy_messages=legacy_messages_of(doc),
            legacy_events=legacy_events_of(doc),
            pending_embedded=embedded,
        )

    def _claimed_transcript(self, tenant: Tenant, doc: dict[str, Any]) -> list[ChatMessage]:
        """The session's messages: from this container's memory when it holds them (no read at all), or what
        it lacks read in one range query. Each claim gets its own list; the engine appends to it."""
        session_id = str(doc["_id"])
        steps = step_count_of(doc)
        cached = self.transcripts.get(session_id)
        if cached is not None and cached.step_count <= steps:
            messages = list(cached.messages)
            messages += self.transcript_after(tenant, doc, cached.step_count, have_legacy=True)
        else:
            messages = self.transcript_after(tenant, doc, 0, have_legacy=False)
        if len(messages) == doc.get("message_count", 0):
            self.transcripts.put(session_id, steps, tuple(messages))
        return messages

    def renew(self, claim: Claim, lease_seconds: float) -> bool:
        """Extend a held lease (the running step's heartbeat); False when the claim no longer holds."""
        expires = self.now() + timedelta(seconds=lease_seconds)
        result = self.sessions.update_one(
            {"_id": claim.session_id, "version": claim.version, "lease.token": claim.token},
            {"$set": {"lease.expires_at": expires, "due_at": expires}},
        )
        return result.matched_count == 1

    def _refusal(self, tenant: Tenant, session_id: str, now: datetime) -> ClaimRefused:
        doc = self.sessions.find_one(
            {"_id": session_id, **tenant_filter(tenant)}, {"status": 1, "lease": 1, "outbox": 1}
        )
        if doc is None:
            return ClaimRefused(reason="not_found")
        if doc["status"] in FINAL:
            return ClaimRefused(reason="finished")
        lease = doc.get("lease") or {}
        expires = lease.get("expires_at")
        if expires is not None and aware(expires) > now:
            return ClaimRefused(reason="leased", lease_expires_at=aware(expires))
        # Free, yet refused: a chain is in flight and this message is not its next step.
        return ClaimRefused(reason="in_flight")

    def release(self, claim: Claim, due_in: float | None = None, outbox_done: bool = False) -> bool:
        """Give the lease back without writing a step (nothing to do, or the step failed); False if it was
        already lost. ``due_in``: when the sweeper should look at the session again (None: only when something
        new happens). ``outbox_done``: the outbox the claim found has been carried out; clear it."""
        due_at = self.now() + timedelta(seconds=due_in) if due_in is not None else None
        return self._release(claim.session_id, claim.version, claim.token, due_at, outbox_done)

    def _release(
        self,
        session_id: str,
        version: int,
        token: str,
        due_at: datetime | None = None,
        outbox_done: bool = False,
    ) -> bool:
        update: dict[str, object] = {"lease": None, "due_at": due_at}
        if outbox_done:
            update["outbox"] = None
        result = self.sessions.update_one(
            {"_id": session_id, "version": version, "lease.token": token}, {"$set": update}
        )
        return result.matched_count == 1

"""One step's claim, commit and release: the one-writer guarantee."""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo import ASCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.errors import OperationFailure, PyMongoError

from runtime_core.events import Event
from runtime_core.session import (
    ChatMessage,
    SessionState,
    Tenant,
    UsageRecord,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    FINAL,
    aware,
    input_from_document,
    is_transient,
    message_from_document,
    seq_id,
    state_from_document,
    tenant_filter,
)
from runtime_core.store.protocol import (
    Claim,
    ClaimRefused,
    CommitResult,
    LeaseLost,
    Outbox,
    StoreUnavailable,
    TranscriptIncomplete,
)

log = logging.getLogger(__name__)


class StepsMixin(StoreBase):
    # ------------------------------------------------------------------ claim / commit
    def claim(
        self,
        tenant: Tenant,
        session_id: str,
        owner: str,
        lease_seconds: float = 60.0,
        receipt: str | None = None,
    ) -> Claim | ClaimRefused:
        """Take the session's lease if it is free or expired; 3 round trips whatever the history length.

        ``receipt`` (the SQS receipt handle of the delivery) is kept with the lease: if this process dies, the
        sweeper makes that message visible again at once instead of after the queue's visibility timeout.
        The session's alarm is set to the lease's expiry: a step that dies is looked at right after it.
        """
        now = self.now()
        token = secrets.token_hex(16)
        expires = now + timedelta(seconds=lease_seconds)
        doc = self.sessions.find_one_and_update(
            {
                "_id": session_id,
                **tenant_filter(tenant),
                "status": {"$nin": FINAL},
                "$or": [{"lease": None}, {"lease.expires_at": {"$lte": now}}],
            },
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
            return self._refusal(tenant, session_id)
        messages = [
            message_from_document(m)
            for m in self.messages.find({"session_id": session_id, **tenant_filter(tenant)})
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
        )

    def renew(self, claim: Claim, lease_seconds: float) -> bool:
        """Extend a held lease (the running step's heartbeat); False when the claim no longer holds."""
        expires = self.now() + timedelta(seconds=lease_seconds)
        result = self.sessions.update_one(
            {"_id": claim.session_id, "version": claim.version, "lease.token": claim.token},
            {"$set": {"lease.expires_at": expires, "due_at": expires}},
        )
        return result.matched_count == 1

    def _refusal(self, tenant: Tenant, session_id: str) -> ClaimRefused:
        doc = self.sessions.find_one({"_id": session_id, **tenant_filter(tenant)}, {"status": 1, "lease": 1})
        if doc is None:
            return ClaimRefused(reason="not_found")
        if doc["status"] in FINAL:
            return ClaimRefused(reason="finished")
        lease = doc.get("lease") or {}
        expires = lease.get("expires_at")
        return ClaimRefused(reason="leased", lease_expires_at=aware(expires) if expires else None)

    def commit(
        self,
        claim: Claim,
        next_state: SessionState,
        new_messages: list[ChatMessage],
        events: list[Event],
        usage: list[UsageRecord],
        consumed_input_ids: list[str],
        *,
        refused_input_ids: list[str] | None = None,
        outbox: Outbox | None = None,
        usage_recorded: bool = False,
    ) -> CommitResult:
        """Persist one step atomically if the claim still holds; else raise ``LeaseLost``, writing nothing.

        One transaction whose first write is the compare-and-set on the session (version + lease token): if it
        matches nothing the transaction is aborted; if a concurrent writer touches the session, the
        transaction conflicts and is retried from the compare-and-set. The same write records the step's
        ``outbox`` (what is left to do: posts, the next step) and sets the session's alarm, so a process that
        dies right after the commit leaves nothing undone for long. ``usage_recorded``: the usage records
        were written as the model calls happened (``record_usage``), the commit does not write them again.
        """
        self._check_step(claim, next_state, new_messages, events, usage)
        now = self.now()
        tenant = claim.tenant
        state = next_state.model_dump(mode="python", exclude={"messages", "session_id", "created_at"})
        state["updated_at"] = now
        message_docs = [
            {
                "_id": seq_id(claim.session_id, m.seq),
                **tenant_filter(tenant),
                "session_id": claim.session_id,
                "seq": m.seq,
                "created_at": now,
                "message": m.model_dump(mode="python"),
            }
            for m in new_messages
        ]
        event_docs = [
            {
                "_id": seq_id(claim.session_id, e.seq),
                **tenant_filter(tenant),
                "session_id": claim.session_id,
                "seq": e.seq,
                "type": e.type,
                "created_at": now,
                "event": e.model_dump(mode="python"),
            }
            for e in events
        ]
        usage_docs = (
            []
            if usage_recorded
            else [
                {**tenant_filter(tenant), **u.model_dump(mode="python"), "total_tokens": u.total_tokens}
                for u in usage
            ]
        )
        refused = list(refused_input_ids or [])
        due_at = now + timedelta(seconds=self.settings.recovery_grace_seconds) if outbox is not None else None
        version = claim.version + 1
        message_count = claim.message_count + len(new_messages)

        def write(session: ClientSession) -> None:
            cas = self.sessions.update_one(
                {
                    "_id": claim.session_id,
                    **tenant_filter(tenant),
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
                        "outbox": outbox.model_dump(mode="python") if outbox is not None else None,
                        "due_at": due_at,
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
            # Matched by session and msg_id, not by _id: records written by schema v1 have another key.
            scope = {**tenant_filter(tenant), "session_id": claim.session_id, "status": "in_progress"}
            if consumed_input_ids:
                self.inputs.update_many(
                    {**scope, "input_id": {"$in": consumed_input_ids}},
                    {
                        "$set": {
                            "status": "completed",
                            "completed_at": now,
                            "expires_at": now + timedelta(seconds=self.settings.idempotency_ttl_seconds),
                        }
                    },
                    session=session,
                )
            if refused:
                # A refused input gives its msg_id back: the corrected input may use it again.
                self.inputs.update_many(
                    {**scope, "input_id": {"$in": refused}},
                    {"$set": {"status": "refused", "completed_at": now}},
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
        if not usage_recorded:
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
                if not is_transient(error) or attempt == attempts:
                    raise
            except PyMongoError as error:
                if not is_transient(error) or attempt == attempts:
                    raise
            # Jittered backoff: the other writer needs a moment to finish its transaction.
            time.sleep(random.uniform(0.005, 0.02) * attempt)

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

"""Committing one step: two writes, no transaction, and a refused commit leaves nothing anyone can see.

1. The step document (``steps``, ``_id`` = session id / step number): the step's messages and events. Its key
   is the next step number after the claim's, so two commits of the same step cannot both land.
2. The compare-and-set on the session header (version + lease token): the new state, the step count, the
   consumed inputs taken out of the pending list, the outbox, the alarm.

Readers count only steps up to the header's ``step_count``. If the compare-and-set fails (the lease was taken
over), the step document written in 1 is an orphan nobody reads; the next commit of that step number finds it
(a duplicate key), sees it is not its own, and replaces it. A crash between 1 and 2 leaves the same orphan.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from runtime_core.events import Event
from runtime_core.session import ChatMessage, SessionState, UsageRecord
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    STORE_SCHEMA,
    compact_message,
    step_id,
    tenant_filter,
)
from runtime_core.store.protocol import Claim, CommitResult, LeaseLost, Outbox

log = logging.getLogger(__name__)

# How many refused msg_ids a session remembers (their records say "refused" too; this is for the claim).
MAX_REFUSED_REMEMBERED = 100


class CommitMixin(StoreBase):
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
        """Persist one step if the claim still holds; else raise ``LeaseLost`` with nothing visible written.

        ``outbox`` (what the step still has to do: posts, the next step) is written by the same
        compare-and-set, and sets the session's alarm, so a process that dies right after the commit leaves
        nothing undone for long. ``usage_recorded``: the usage records were written as the model calls
        happened (``record_usage``); otherwise they are written here, after the commit.
        """
        self._check_step(claim, next_state, new_messages, events, usage)
        now = self.now()
        tenant = claim.tenant
        step_no = claim.step_count + 1
        step = {
            "_id": step_id(claim.session_id, step_no),
            **tenant_filter(tenant),
            "session_id": claim.session_id,
            "step_no": step_no,
            "token": claim.token,
            "messages": [compact_message(m) for m in new_messages],
            "events": [e.model_dump(mode="python") for e in events],
            "last_message_seq": new_messages[-1].seq if new_messages else claim.message_count - 1,
            "last_event_seq": next_state.last_event_seq,
            "created_at": now,
        }
        self._write_step(step, claim)

        refused = list(refused_input_ids or [])
        taken = set(consumed_input_ids) | set(refused)
        state = next_state.model_dump(mode="python", exclude={"messages", "session_id", "created_at"})
        state["updated_at"] = now
        message_count = claim.message_count + len(new_messages)
        version = claim.version + 1
        update: dict[str, Any] = {
            "$set": {
                **state,
                "version": version,
                "lease": None,
                "message_count": message_count,
                "step_count": step_no,
                "store_schema": STORE_SCHEMA,
                "legacy_messages": claim.legacy_messages,
                "legacy_events": claim.legacy_events,
                "committed_by": claim.token,
                "outbox": outbox.model_dump(mode="python") if outbox is not None else None,
                "due_at": now + timedelta(seconds=self.settings.recovery_grace_seconds) if outbox else None,
            }
        }
        if not claim.pending_embedded:
            # A schema 1 session: its pending inputs move into the session document now.
            update["$set"]["pending"] = [
                p.model_dump(mode="python") for p in claim.pending_inputs if p.input_id not in taken
            ]
        elif taken:
            update["$pull"] = {"pending": {"input_id": {"$in": sorted(taken)}}}
        if refused:
            update["$push"] = {"refused_inputs": {"$each": refused, "$slice": -MAX_REFUSED_REMEMBERED}}
        result = self.sessions.update_one(
            {
                "_id": claim.session_id,
                **tenant_filter(tenant),
                "version": claim.version,
                "lease.token": claim.token,
            },
            update,
        )
        if result.matched_count == 0:
            # After a write whose outcome was unknown (a network error on the reply), the retry finds the
            # version moved: by our own write if the marker is ours, and then the step is stored (and what
            # follows the compare-and-set was that write's to do).
            ours = {"_id": claim.session_id, "committed_by": claim.token}
            if not self.sessions.count_documents(ours, limit=1):
                self.transcripts.forget(claim.session_id)
                raise LeaseLost(f"session {claim.session_id!r}: claim {claim.version} no longer holds")
            log.info("commit of session %s had landed before the retry", claim.session_id)
            return CommitResult(
                version=version, message_count=message_count, last_event_seq=next_state.last_event_seq
            )
        if refused:
            self._mark_refused(claim, refused, now)
        # The claim's own prefix (the engine may have appended to that list in place) plus the new messages.
        held = claim.state.messages[: claim.message_count]
        self.transcripts.put(claim.session_id, step_no, (*held, *new_messages))
        if usage and not usage_recorded:
            self._write_usage(claim, usage)
        return CommitResult(
            version=version, message_count=message_count, last_event_seq=next_state.last_event_seq
        )

    def _write_step(self, step: dict[str, Any], claim: Claim) -> None:
        """Insert the step document; an orphan under its key (a commit that lost its lease, or died before its
        compare-and-set) is replaced. Our own document (a retried write) is left as it is."""
        for _ in range(2):
            try:
                self.steps.insert_one(step)
                return
            except DuplicateKeyError:
                existing = self.steps.find_one({"_id": step["_id"]}, {"token": 1})
                if existing is None:
                    continue
                if existing.get("token") == claim.token:
                    return
                # Not ours, and above the header's step count (we hold the lease on that header): an orphan.
                self.steps.delete_one({"_id": step["_id"], "token": existing.get("token")})
        raise LeaseLost(f"session {claim.session_id!r}: step {step['step_no']} is being written by another")

    def _mark_refused(self, claim: Claim, refused: list[str], now: Any) -> None:
        """The idempotency records of refused inputs: their msg_ids may be used again (a rare write)."""
        self.inputs.update_many(
            {**tenant_filter(claim.tenant), "session_id": claim.session_id, "input_id": {"$in": refused}},
            {"$set": {"status": "refused", "completed_at": now}},
        )

    def _write_usage(self, claim: Claim, usage: list[UsageRecord]) -> None:
        docs = [
            {
                **tenant_filter(claim.tenant),
                **u.model_dump(mode="python"),
                "step": claim.token,
                "total_tokens": u.total_tokens,
            }
            for u in usage
        ]
        self.usage.insert_many(docs)
        self.roll_up(claim.tenant, usage)

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
        # Seqs run 0 .. message_count-1: the claim's list itself may already hold the engine's appends.
        last = claim.message_count - 1
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

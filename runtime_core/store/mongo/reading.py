"""Reading a session's messages and events back: schema 2 step documents, after schema 1's collections.

A step document holds one committed step's messages and events. Only steps up to the session header's
``step_count`` count: a step document above it was written by a commit whose compare-and-set then failed (its
lease had been taken over) and is invisible until the next commit of that step number replaces it. A session
written by schema 1 keeps its first ``legacy_messages`` messages and ``legacy_events`` events in the
``messages`` / ``events`` collections; everything after is in step documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pymongo import ASCENDING

from runtime_core.events import Event
from runtime_core.session import ChatMessage, Tenant
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    event_from_document,
    event_from_stored,
    message_from_compact,
    message_from_document,
    step_id,
    tenant_filter,
)


def step_count_of(doc: Mapping[str, Any]) -> int:
    return int(doc.get("step_count") or 0)


def legacy_messages_of(doc: Mapping[str, Any]) -> int:
    """Messages in schema 1's collection: all of them for a session schema 2 never committed."""
    if "legacy_messages" in doc:
        return int(doc["legacy_messages"])
    return 0 if doc.get("store_schema") else int(doc.get("message_count") or 0)


def legacy_events_of(doc: Mapping[str, Any]) -> int:
    if "legacy_events" in doc:
        return int(doc["legacy_events"])
    return 0 if doc.get("store_schema") else int(doc.get("last_event_seq") or 0)


class ReadingMixin(StoreBase):
    def _steps(
        self, tenant: Tenant, session_id: str, after_step: int, up_to: int, fields: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        """Step documents after_step < n <= up_to, in order: one range read of the ``_id`` index."""
        if up_to <= after_step:
            return []
        query = {
            "_id": {"$gt": step_id(session_id, after_step), "$lte": step_id(session_id, up_to)},
            **tenant_filter(tenant),
        }
        return list(
            self.steps.find(query, dict(fields))
            .sort("_id", ASCENDING)
            .batch_size(self.settings.read_batch_size)
        )

    def _legacy_messages(
        self, tenant: Tenant, session_id: str, count: int, after_seq: int = -1, limit: int = 0
    ) -> list[ChatMessage]:
        """Schema 1's messages: seqs 0 .. count-1 of the session."""
        if count <= 0 or after_seq >= count - 1:
            return []
        query = {"session_id": session_id, **tenant_filter(tenant), "seq": {"$gt": after_seq, "$lt": count}}
        cursor = self.messages.find(query).sort("_id", ASCENDING).batch_size(self.settings.read_batch_size)
        return [message_from_document(m) for m in (cursor.limit(limit) if limit else cursor)]

    def _stored_after(
        self, tenant: Tenant, doc: Mapping[str, Any], kind: Literal["events", "messages"], after_seq: int
    ) -> Iterator[dict[str, Any]]:
        """The stored ``kind`` bodies with ``seq > after_seq`` of the committed step documents, in order: the
        steps whose last seq of that kind is past ``after_seq`` (``last_event_seq`` / ``last_message_seq``),
        read lazily so a caller that stops at its limit reads no further."""
        session_id = str(doc["_id"])
        query = {
            "_id": {"$gt": step_id(session_id, 0), "$lte": step_id(session_id, step_count_of(doc))},
            **tenant_filter(tenant),
            f"last_{kind[:-1]}_seq": {"$gt": after_seq},
        }
        for step in self.steps.find(query, {kind: 1}).sort("_id", ASCENDING):
            yield from (body for body in step.get(kind, []) if body["seq"] > after_seq)

    def _messages_of_steps(self, steps: list[dict[str, Any]]) -> list[ChatMessage]:
        return [message_from_compact(m) for step in steps for m in step.get("messages", [])]

    def transcript_after(
        self, tenant: Tenant, doc: Mapping[str, Any], have_steps: int, have_legacy: bool
    ) -> list[ChatMessage]:
        """The messages a caller lacks up to the header ``doc``'s step count, when it holds ``have_steps``
        steps (and the legacy part if ``have_legacy``)."""
        session_id = str(doc["_id"])
        legacy = [] if have_legacy else self._legacy_messages(tenant, session_id, legacy_messages_of(doc))
        steps = self._steps(tenant, session_id, have_steps, step_count_of(doc), {"messages": 1})
        return legacy + self._messages_of_steps(steps)

    def events_in(self, tenant: Tenant, doc: Mapping[str, Any], after_seq: int, limit: int) -> list[Event]:
        """Committed events with ``seq > after_seq``, at most ``limit``, in order."""
        session_id = str(doc["_id"])
        events: list[Event] = []
        legacy = legacy_events_of(doc)
        if after_seq < legacy:
            for d in (
                self.events.find(
                    {
                        **tenant_filter(tenant),
                        "session_id": session_id,
                        "seq": {"$gt": after_seq, "$lte": legacy},
                    }
                )
                .sort("seq", ASCENDING)
                .limit(limit)
            ):
                events.append(event_from_document(d))
        if len(events) >= limit:
            return events[:limit]
        for body in self._stored_after(tenant, doc, "events", after_seq):
            events.append(event_from_stored(body))
            if len(events) >= limit:
                break
        return events

    def messages_in(
        self, tenant: Tenant, doc: Mapping[str, Any], after_seq: int, limit: int
    ) -> list[ChatMessage]:
        session_id = str(doc["_id"])
        messages = self._legacy_messages(tenant, session_id, legacy_messages_of(doc), after_seq, limit)
        if len(messages) >= limit:
            return messages
        for stored in self._stored_after(tenant, doc, "messages", after_seq):
            messages.append(message_from_compact(stored))
            if len(messages) >= limit:
                break
        return messages

"""Indexes and TTLs: created once per database and index version."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    INDEX_VERSION,
)


class IndexesMixin(StoreBase):
    # ------------------------------------------------------------------ indexes
    def ensure_indexes(self) -> None:
        """Create or adjust every index; safe to call on each cold start and from deployment scripts."""
        s = self.settings
        self.sessions.create_indexes(
            [
                IndexModel(
                    [("app_id", ASCENDING), ("user_id", ASCENDING), ("updated_at", DESCENDING)],
                    name="tenant_updated",
                ),
                IndexModel(
                    [("app_id", ASCENDING), ("status", ASCENDING), ("updated_at", DESCENDING)],
                    name="app_status",
                ),
                # The sweeper's query: sessions whose alarm has passed.
                IndexModel([("due_at", ASCENDING)], name="due"),
            ]
        )
        self.messages.create_indexes(
            [
                IndexModel(
                    [
                        ("app_id", ASCENDING),
                        ("user_id", ASCENDING),
                        ("session_id", ASCENDING),
                        ("seq", ASCENDING),
                    ],
                    name="tenant_session_seq",
                )
            ]
        )
        self.events.create_indexes(
            [
                IndexModel(
                    [
                        ("app_id", ASCENDING),
                        ("user_id", ASCENDING),
                        ("session_id", ASCENDING),
                        ("seq", ASCENDING),
                    ],
                    name="tenant_session_seq",
                )
            ]
        )
        self.inputs.create_indexes(
            [
                IndexModel(
                    [("session_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)],
                    name="session_pending",
                )
            ]
        )
        self.connections.create_indexes(
            [
                IndexModel(
                    [("session_ids", ASCENDING), ("app_id", ASCENDING), ("user_id", ASCENDING)],
                    name="session_subscribers",
                ),
                IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="tenant"),
                # The sweeper's query for connections to close (documents without a token expiry stay out).
                IndexModel(
                    [("token_expires_at", ASCENDING)],
                    name="token_expiry",
                    partialFilterExpression={"token_expires_at": {"$type": "date"}},
                ),
            ]
        )
        self.usage.create_indexes(
            [
                IndexModel([("app_id", ASCENDING), ("created_at", ASCENDING)], name="app_time"),
                IndexModel(
                    [("app_id", ASCENDING), ("user_id", ASCENDING), ("created_at", ASCENDING)],
                    name="tenant_time",
                ),
                IndexModel([("session_id", ASCENDING)], name="session"),
                # The rollup rebuild of a range of days across every app.
                IndexModel([("created_at", ASCENDING)], name="time"),
            ]
        )
        self.usage_daily.create_indexes(
            [
                IndexModel(
                    [("app_id", ASCENDING), ("user_id", ASCENDING), ("dim", ASCENDING), ("day", ASCENDING)],
                    name="tenant_dim_day",
                ),
                IndexModel(
                    [("app_id", ASCENDING), ("dim", ASCENDING), ("day", ASCENDING)], name="app_dim_day"
                ),
            ]
        )
        # expireAfterSeconds=0 on an expires_at field: each document carries its own deadline.
        self._ensure_ttl(self.connections, "expires_at", 0)
        self._ensure_ttl(self.inputs, "expires_at", 0)
        self._ensure_ttl(self.events, "created_at", s.event_retention_seconds)
        self._ensure_ttl(self.sessions, "updated_at", s.session_retention_seconds)
        self._ensure_ttl(self.messages, "created_at", s.session_retention_seconds)
        # Store schema 2: a step's messages and events live (and expire) together, with the session.
        self._ensure_ttl(self.steps, "created_at", s.session_retention_seconds)

    def _index_fingerprint(self) -> str:
        s = self.settings
        return f"v{INDEX_VERSION}:events={s.event_retention_seconds}:sessions={s.session_retention_seconds}"

    def ensure_indexes_if_needed(self) -> bool:
        """``ensure_indexes`` once per database and index version, not at every cold start: one read when the
        marker matches. Returns True when the indexes were (re)created."""
        fingerprint = self._index_fingerprint()
        marker = self.meta.find_one({"_id": "indexes"})
        if marker is not None and marker.get("fingerprint") == fingerprint:
            return False
        self.ensure_indexes()
        self.meta.replace_one(
            {"_id": "indexes"}, {"fingerprint": fingerprint, "ensured_at": self.now()}, upsert=True
        )
        return True

    def _ensure_ttl(self, collection: Any, field: str, seconds: int | None) -> None:
        name = f"ttl_{field}"
        existing = collection.index_information().get(name)
        if seconds is None:
            if existing is not None:
                collection.drop_index(name)
            return
        if existing is not None and existing.get("expireAfterSeconds") == seconds:
            return
        if existing is not None:
            # Changing a TTL in place (collMod) is not supported everywhere; a drop and create is.
            collection.drop_index(name)
        collection.create_index([(field, ASCENDING)], name=name, expireAfterSeconds=seconds)

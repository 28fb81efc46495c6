"""WebSocket connections: tenant, subscribed sessions, expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from runtime_core.session import (
    Tenant,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    aware,
    tenant_filter,
)
from runtime_core.store.protocol import (
    Connection,
)


class ConnectionsMixin(StoreBase):
    # ------------------------------------------------------------------ connections
    def put_connection(
        self,
        connection_id: str,
        tenant: Tenant,
        ttl_seconds: float | None = None,
        endpoint: str | None = None,
        token_expires_at: datetime | None = None,
        encoding: Literal["mozaiks", "agui"] = "mozaiks",
    ) -> None:
        now = self.now()
        ttl = ttl_seconds if ttl_seconds is not None else self.settings.connection_ttl_seconds
        self.connections.replace_one(
            {"_id": connection_id},
            {
                **tenant_filter(tenant),
                "session_ids": [],
                "endpoint": endpoint,
                "encoding": encoding,
                "created_at": now,
                # The record outlives its token (the TTL index removes it later): whoever meets it after the
                # token expired can still tell "expired" from "unknown" and close the socket.
                "expires_at": now + timedelta(seconds=ttl),
                "token_expires_at": token_expires_at,
            },
            upsert=True,
        )

    @staticmethod
    def _connection(doc: dict[str, Any]) -> Connection:
        token_expires_at = doc.get("token_expires_at")
        return Connection(
            connection_id=doc["_id"],
            tenant=Tenant(app_id=doc["app_id"], user_id=doc["user_id"]),
            session_ids=doc.get("session_ids", []),
            endpoint=doc.get("endpoint"),
            encoding=doc.get("encoding") or "mozaiks",
            created_at=aware(doc["created_at"]),
            expires_at=aware(doc["expires_at"]),
            token_expires_at=aware(token_expires_at) if token_expires_at is not None else None,
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        doc = self.connections.find_one({"_id": connection_id, "expires_at": {"$gt": self.now()}})
        return None if doc is None else self._connection(doc)

    def expired_connections(self, limit: int = 100) -> list[Connection]:
        # "$ne: None" is redundant on MongoDB (null never compares with a date) but not on every engine.
        query = {"token_expires_at": {"$ne": None, "$lte": self.now()}}
        docs = self.connections.find(query).sort("token_expires_at", 1)
        return [self._connection(doc) for doc in docs.limit(limit)]

    def delete_connection(self, connection_id: str) -> None:
        self.connections.delete_one({"_id": connection_id})

    def subscribe(self, tenant: Tenant, connection_id: str, session_id: str) -> None:
        """Add a session to the connection's bounded list (oldest dropped first)."""
        self._session_doc(tenant, session_id, {"_id": 1})
        result = self.connections.update_one(
            {"_id": connection_id, **tenant_filter(tenant), "session_ids": {"$ne": session_id}},
            {"$push": {"session_ids": {"$each": [session_id], "$slice": -self.settings.max_subscriptions}}},
        )
        if (
            result.matched_count == 0
            and self.connections.count_documents({"_id": connection_id, **tenant_filter(tenant)}, limit=1)
            == 0
        ):
            raise LookupError(f"connection {connection_id!r} not found")

    def _following(self, tenant: Tenant, session_id: str) -> dict[str, Any]:
        now = self.now()
        return {
            "session_ids": session_id,
            **tenant_filter(tenant),
            "expires_at": {"$gt": now},
            # None also matches records written before tokens expired with them.
            "$or": [{"token_expires_at": None}, {"token_expires_at": {"$gt": now}}],
        }

    def live_connections(self, tenant: Tenant, session_id: str) -> list[str]:
        return [d["_id"] for d in self.connections.find(self._following(tenant, session_id), {"_id": 1})]

    def followers(self, tenant: Tenant, session_id: str) -> list[Connection]:
        return [self._connection(d) for d in self.connections.find(self._following(tenant, session_id))]

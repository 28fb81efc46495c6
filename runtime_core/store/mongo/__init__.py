"""The MongoDB adapter of the session store (pymongo; MongoDB replica set / Atlas, or the embedded mongoeco).

Layout (one collection per kind of record, none of them grows one document without bound):

- ``sessions``: ``_id`` = session id; all of ``SessionState`` except messages, plus ``version`` (bumped by
  every claim and commit), ``lease`` (owner, token, expiry), ``message_count``, ``input_seq``,
  ``cancel_requested``.
- ``messages`` / ``events``: append-only, ``_id`` = ``"<session_id>/<seq:010d>"``. The ``_id`` index makes
  ``(session_id, seq)`` unique and serves the ordered range read of one session.
- ``inputs``: idempotency records, ``_id`` = JSON of ``[app_id, user_id, input_id]``; ``in_progress`` until
  the commit that consumes them marks them ``completed`` with an ``expires_at`` (TTL).
- ``connections``: ``_id`` = connection id, tenant, bounded ``session_ids``, ``expires_at`` (TTL).
- ``usage`` (one document per model call) and ``usage_daily`` (``$inc`` rollups per app and day, and per
  app, day and model).

Uniqueness rides on ``_id`` rather than compound unique indexes: the guarantee is the same on MongoDB, and
mongoeco checks compound unique indexes by scanning the whole collection on every insert.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from runtime_core.store.mongo.commit import CommitMixin
from runtime_core.store.mongo.connections import ConnectionsMixin
from runtime_core.store.mongo.documents import (
    INDEX_VERSION,
    Clock,
    StoreSettings,
    connect,
    state_from_document,
)
from runtime_core.store.mongo.indexes import IndexesMixin
from runtime_core.store.mongo.inputs import InputsMixin
from runtime_core.store.mongo.recovery import RecoveryMixin
from runtime_core.store.mongo.references import ReferencesMixin
from runtime_core.store.mongo.sessions import SessionsMixin
from runtime_core.store.mongo.steps import StepsMixin
from runtime_core.store.mongo.transcripts import Transcripts
from runtime_core.store.mongo.usage import UsageMixin

__all__ = ["INDEX_VERSION", "MongoSessionStore", "StoreSettings", "connect", "state_from_document"]


class MongoSessionStore(
    SessionsMixin,
    InputsMixin,
    StepsMixin,
    CommitMixin,
    RecoveryMixin,
    UsageMixin,
    ConnectionsMixin,
    IndexesMixin,
    ReferencesMixin,
):
    """``SessionStore`` on pymongo. Thread-safe (pymongo clients are); one instance per process is enough."""

    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        settings: StoreSettings | None = None,
        *,
        clock: Clock | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings or StoreSettings()
        self.client = client
        self.db: Database[dict[str, Any]] = client.get_database(self.settings.db_name)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._on_close = on_close
        self.sessions = self.db["sessions"]
        self.messages = self.db["messages"]
        self.events = self.db["events"]
        self.inputs = self.db["inputs"]
        self.connections = self.db["connections"]
        self.usage = self.db["usage"]
        self.usage_daily = self.db["usage_daily"]
        self.meta = self.db["meta"]
        self.steps = self.db["steps"]
        self.transcripts = Transcripts()

    def close(self) -> None:
        self.client.close()
        if self._on_close is not None:
            self._on_close()

"""What every part of the MongoDB store shares: the client, the collections, the settings and the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from runtime_core.store.mongo.documents import Clock, StoreSettings
from runtime_core.store.mongo.transcripts import Transcripts

Documents = Collection[dict[str, Any]]


class StoreBase:
    """Attributes set by ``MongoSessionStore.__init__``; each mixin adds the operations of one concern."""

    settings: StoreSettings
    client: MongoClient[dict[str, Any]]
    db: Database[dict[str, Any]]
    sessions: Documents
    messages: Documents
    events: Documents
    inputs: Documents
    connections: Documents
    usage: Documents
    usage_daily: Documents
    meta: Documents
    steps: Documents
    transcripts: Transcripts
    _clock: Clock

    @property
    def recovery_grace_seconds(self) -> float:
        return self.settings.recovery_grace_seconds

    @property
    def outbox_fresh_seconds(self) -> float:
        return self.settings.outbox_fresh_seconds

    def now(self) -> datetime:
        # BSON dates keep milliseconds: truncate so what we compare is what we stored.
        value = self._clock()
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

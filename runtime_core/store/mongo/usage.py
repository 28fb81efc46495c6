"""The usage ledger (one document per model call) and its daily rollups."""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError, PyMongoError

from runtime_core.session import (
    Tenant,
    UsageRecord,
)
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.mongo.documents import (
    aware,
    tenant_filter,
)

log = logging.getLogger(__name__)


class UsageMixin(StoreBase):
    def record_usage_start(self, tenant: Tenant, session_id: str, key: str, agent: str, purpose: str) -> None:
        """Note a model call just before it goes out (``status: started``): a process killed while the
        provider answers still leaves the call in the ledger (its tokens unknown). ``record_usage`` completes
        the row under the same key."""
        doc = {
            "_id": key,
            **tenant_filter(tenant),
            "session_id": session_id,
            "agent": agent,
            "purpose": purpose,
            "status": "started",
            "created_at": self.now(),
        }
        # A retried write finds the row noted already.
        with contextlib.suppress(DuplicateKeyError):
            self.usage.insert_one(doc)

    def record_usage(self, tenant: Tenant, record: UsageRecord, key: str) -> bool:
        """Write one model call to the ledger as soon as it returned, before the step can fail or die: every
        provider call is billed once, including calls a crashed step will repeat. ``key`` makes the write
        idempotent (the same call written twice is one row; a row noted by ``record_usage_start`` is
        completed). False when the key was already written."""
        doc = {
            **tenant_filter(tenant),
            **record.model_dump(mode="python"),
            "total_tokens": record.total_tokens,
            "status": "done",
        }
        try:
            result = self.usage.replace_one({"_id": key, "status": {"$ne": "done"}}, doc, upsert=True)
        except DuplicateKeyError:
            return False  # the row is done already: this call was written before
        # The daily rollup is not written here: the worker adds a step's calls once, after its posts, out of
        # the client's way (``roll_up``).
        return not (result.matched_count == 0 and result.upserted_id is None)

    def roll_up(self, tenant: Tenant, usage: list[UsageRecord]) -> None:
        """Per-app daily rollups of some model calls, after their step is done: one hot document per app and
        day, so never inside a step's critical path. The ``usage`` ledger stays the source of truth; a crash
        before this leaves a rollup short, rebuildable from the ledger."""
        if not usage:
            return
        totals: dict[tuple[str, str | None], dict[str, float]] = {}
        for u in usage:
            day = aware(u.created_at).astimezone(UTC).strftime("%Y-%m-%d")
            for model in (None, u.model):
                t = totals.setdefault(
                    (day, model), {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
                )
                t["calls"] += 1
                t["prompt_tokens"] += u.prompt_tokens
                t["completion_tokens"] += u.completion_tokens
                t["cost"] += u.cost
        ops = [
            UpdateOne(
                {"_id": json.dumps([tenant.app_id, day, model], separators=(",", ":"))},
                {"$inc": inc, "$setOnInsert": {"app_id": tenant.app_id, "day": day, "model": model}},
                upsert=True,
            )
            for (day, model), inc in totals.items()
        ]
        try:
            self.usage_daily.bulk_write(ops, ordered=False)
        except PyMongoError:
            log.exception("usage rollup failed for app %s; the usage ledger is complete", tenant.app_id)

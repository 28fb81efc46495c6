"""The usage ledger (one document per model call), its daily rollups, the reports read from them, and the
rebuild of the rollups from the ledger (``runtime_core.usage`` holds the shapes and the bucketing)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from pymongo import ReplaceOne, UpdateOne
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
from runtime_core.usage import (
    Dimension,
    LedgerCall,
    RollupKey,
    SessionUsage,
    UsageAmounts,
    UsageRange,
    UsageReport,
    UsageRow,
    day_of,
    rollup_rows,
)

log = logging.getLogger(__name__)

AMOUNT_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "total_tokens", "cost", "steps")


def rollup_id(key: RollupKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def step_of(key: str) -> str:
    """The step a ledger key belongs to: keys are ``<claim token>:<call number>``."""
    return key.rsplit(":", 1)[0] if ":" in key else key


class UsageMixin(StoreBase):
    def record_usage_start(self, tenant: Tenant, session_id: str, key: str, agent: str, purpose: str) -> None:
        """Note a model call just before it goes out (``status: started``): a process killed while the
        provider answers still leaves the call in the ledger (its tokens unknown). ``record_usage`` completes
        the row under the same key."""
        doc = {
            "_id": key,
            **tenant_filter(tenant),
            "session_id": session_id,
            "step": step_of(key),
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
            "step": step_of(key),
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
        """Add one step's model calls to the daily rollups, after the step is done: one ``bulkWrite`` of
        ``$inc`` per (tenant, day, dimension, key), never inside the step's critical path. The ledger stays
        the source of truth: a crash before this leaves a rollup short, and ``rebuild_usage_rollups`` redoes
        it from the ledger."""
        if not usage:
            return
        calls = [
            LedgerCall(
                app_id=tenant.app_id,
                user_id=tenant.user_id,
                step="this",  # one step: it counts once in each row it touches
                day=day_of(u.created_at),
                model=u.model,
                workflow=u.workflow,
                agent=u.agent,
                prompt_tokens=u.prompt_tokens,
                completion_tokens=u.completion_tokens,
                cost=u.cost,
            )
            for u in usage
        ]
        ops = [
            UpdateOne(
                {"_id": rollup_id(key)},
                {"$inc": amounts.model_dump(), "$setOnInsert": _labels(key)},
                upsert=True,
            )
            for key, amounts in rollup_rows(calls).items()
        ]
        try:
            self.usage_daily.bulk_write(ops, ordered=False)
        except PyMongoError:
            log.exception("usage rollup failed for app %s; the usage ledger is complete", tenant.app_id)

    # ---- reading -----------------------------------------------------------------------------------------
    def usage_report(
        self, app_id: str, user_id: str | None, span: UsageRange, by: Dimension = "day"
    ) -> UsageReport:
        """A tenant's usage over ``span`` from the rollups. ``user_id`` None: the whole app (operators only:
        the HTTP API always passes the caller's own user)."""
        since, until = span.days
        query: dict[str, Any] = {"app_id": app_id, "dim": by, "day": {"$gte": since, "$lte": until}}
        if user_id is not None:
            query["user_id"] = user_id
        merged: dict[tuple[str, str], UsageAmounts] = {}
        for doc in self.usage_daily.find(query):
            row = (doc["day"], doc.get("key") or "")
            merged[row] = merged.get(row, UsageAmounts()).plus(_amounts(doc))
        report = UsageReport(app_id=app_id, user_id=user_id, since=span.since, until=span.until, by=by)
        for (day, key), amounts in sorted(merged.items()):
            report.rows.append(UsageRow(day=day, key=key, **amounts.model_dump()))
            report.totals[key] = report.totals.get(key, UsageAmounts()).plus(amounts)
            report.total = report.total.plus(amounts)
        return report

    def session_usage(self, tenant: Tenant, session_id: str) -> SessionUsage:
        """One session's usage from the ledger (tenant-scoped: another tenant's session reads empty)."""
        out = SessionUsage(session_id=session_id)
        steps: dict[str, set[str]] = {"": set()}
        for doc in self.usage.find({**tenant_filter(tenant), "session_id": session_id}):
            if doc.get("status") == "started":
                out.unfinished_calls += 1
                continue
            call = _ledger_call(doc)
            one = UsageAmounts(
                calls=1,
                prompt_tokens=call.prompt_tokens,
                completion_tokens=call.completion_tokens,
                total_tokens=call.prompt_tokens + call.completion_tokens,
                cost=call.cost,
            )
            out.total = out.total.plus(one)
            out.by_model[call.model] = out.by_model.get(call.model, UsageAmounts()).plus(one)
            out.by_agent[call.agent] = out.by_agent.get(call.agent, UsageAmounts()).plus(one)
            for name in ("", f"m:{call.model}", f"a:{call.agent}"):
                steps.setdefault(name, set()).add(call.step)
        out.total.steps = len(steps[""])
        for model, amounts in out.by_model.items():
            amounts.steps = len(steps[f"m:{model}"])
        for agent, amounts in out.by_agent.items():
            amounts.steps = len(steps[f"a:{agent}"])
        return out

    # ---- rebuilding --------------------------------------------------------------------------------------
    def rebuild_usage_rollups(self, span: UsageRange, app_id: str | None = None) -> int:
        """Recompute the rollups of ``span``'s days from the ledger and replace them: after a crash between a
        step's commit and its rollup, or to repair rollups by hand. Idempotent. Rollups of those days that the
        ledger no longer supports are removed. Returns the number of rollup documents written.

        A step rolling up while this runs may have its ``$inc`` overwritten: rebuild closed days (before
        today, UTC), or run it again once the day is over."""
        start, end = span.bounds()
        query: dict[str, Any] = {"created_at": {"$gte": start, "$lt": end}, "status": {"$ne": "started"}}
        if app_id is not None:
            query["app_id"] = app_id
        rows = rollup_rows(_ledger_call(doc) for doc in self.usage.find(query))
        ops: list[Any] = [
            ReplaceOne({"_id": rollup_id(key)}, {**_labels(key), **amounts.model_dump()}, upsert=True)
            for key, amounts in rows.items()
        ]
        if ops:
            self.usage_daily.bulk_write(ops, ordered=False)
        since, until = span.days
        stale: dict[str, Any] = {"dim": {"$exists": True}, "day": {"$gte": since, "$lte": until}}
        if app_id is not None:
            stale["app_id"] = app_id
        keep = {rollup_id(key) for key in rows}
        gone = [d["_id"] for d in self.usage_daily.find(stale, {"_id": 1}) if d["_id"] not in keep]
        for chunk in _chunks(gone, 500):
            self.usage_daily.delete_many({"_id": {"$in": chunk}})
        log.info("usage rollups rebuilt", extra={"documents": len(ops), "removed": len(gone)})
        return len(ops)


def _labels(key: RollupKey) -> dict[str, str]:
    app_id, user_id, day, dim, name = key
    return {"app_id": app_id, "user_id": user_id, "day": day, "dim": dim, "key": name}


def _amounts(doc: Mapping[str, Any]) -> UsageAmounts:
    return UsageAmounts(**{f: doc.get(f, 0) for f in AMOUNT_FIELDS})


def _ledger_call(doc: Mapping[str, Any]) -> LedgerCall:
    # Rows written before the ledger knew its step (or by a commit that wrote usage itself) count as their
    # own step; rows without a workflow report under "".
    step = doc.get("step") or str(doc.get("_id"))
    return LedgerCall(
        app_id=doc["app_id"],
        user_id=doc["user_id"],
        step=step,
        day=day_of(aware(doc["created_at"])),
        model=doc.get("model") or "",
        workflow=doc.get("workflow") or "",
        agent=doc.get("agent") or "",
        prompt_tokens=int(doc.get("prompt_tokens") or 0),
        completion_tokens=int(doc.get("completion_tokens") or 0),
        cost=float(doc.get("cost") or 0.0),
    )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

"""Usage you can bill from: the ledger, the daily rollups, the reports, and the rebuild after a crash between
a step's commit and its rollup. Tenant isolation: another tenant's usage is never in a report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from runtime_core.session import Tenant, UsageRecord
from runtime_core.store import MongoSessionStore
from runtime_core.usage import UsageRange
from tests.store.scenario import OTHER, OTHER_APP, TENANT

DAY1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
SPAN = UsageRange(since=date(2026, 3, 1), until=date(2026, 3, 2))


def call(
    session: str, agent: str, model: str, when: datetime, prompt: int = 100, completion: int = 10
) -> UsageRecord:
    return UsageRecord(
        session_id=session,
        agent=agent,
        model=model,
        workflow="Support",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=prompt * 1e-6 + completion * 2e-6,
        created_at=when,
    )


def run_step(
    store: MongoSessionStore, tenant: Tenant, token: str, calls: list[UsageRecord], *, roll: bool = True
) -> None:
    """What the worker does: each call to the ledger as it returns (key ``<claim token>:<n>``), then the
    step's rollup after its posts (skipped: the process died in between)."""
    for n, record in enumerate(calls, start=1):
        store.record_usage_start(tenant, record.session_id, f"{token}:{n}", record.agent, "reply")
        store.record_usage(tenant, record, key=f"{token}:{n}")
    if roll:
        store.roll_up(tenant, calls)


def two_days(store: MongoSessionStore, *, roll_last: bool = True) -> None:
    run_step(
        store, TENANT, "t1", [call("s-1", "triage", "gpt-4o", DAY1), call("s-1", "billing", "gpt-4o", DAY1)]
    )
    run_step(store, TENANT, "t2", [call("s-1", "billing", "gpt-4o-mini", DAY1, 50, 5)])
    run_step(store, TENANT, "t3", [call("s-2", "triage", "gpt-4o", DAY2, 7, 3)], roll=roll_last)


def rollup_docs(store: MongoSessionStore) -> dict[str, dict[str, object]]:
    return {d["_id"]: {k: v for k, v in d.items() if k != "cost"} for d in store.usage_daily.find({})}


def test_report_per_day_model_workflow_and_agent(store: MongoSessionStore) -> None:
    two_days(store)
    by_day = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "day")
    assert [(r.day, r.calls, r.steps, r.prompt_tokens) for r in by_day.rows] == [
        ("2026-03-01", 3, 2, 250),
        ("2026-03-02", 1, 1, 7),
    ]
    assert (by_day.total.calls, by_day.total.steps, by_day.total.total_tokens) == (4, 3, 285)

    by_model = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "model")
    assert {k: (a.calls, a.steps) for k, a in by_model.totals.items()} == {
        "gpt-4o": (3, 2),
        "gpt-4o-mini": (1, 1),
    }
    by_agent = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "agent")
    # Step t1 had calls of both agents: it counts once for each.
    assert {k: (a.calls, a.steps) for k, a in by_agent.totals.items()} == {
        "billing": (2, 2),
        "triage": (2, 2),
    }
    by_workflow = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "workflow")
    assert by_workflow.totals["Support"].calls == 4
    assert abs(by_workflow.total.cost - by_day.total.cost) < 1e-12 and by_day.total.cost > 0


def test_range_limits_the_days(store: MongoSessionStore) -> None:
    two_days(store)
    only_day2 = UsageRange(since=date(2026, 3, 2), until=date(2026, 3, 2))
    report = store.usage_report(TENANT.app_id, TENANT.user_id, only_day2, "day")
    assert [r.day for r in report.rows] == ["2026-03-02"] and report.total.calls == 1


def test_another_tenant_never_sees_the_usage(store: MongoSessionStore) -> None:
    two_days(store)
    run_step(store, OTHER, "o1", [call("s-9", "triage", "gpt-4o", DAY1, 1000, 1000)])
    for stranger in (OTHER, OTHER_APP):
        report = store.usage_report(stranger.app_id, stranger.user_id, SPAN, "model")
        assert report.total.calls == (1 if stranger == OTHER else 0)
        assert store.session_usage(stranger, "s-1").total.calls == 0
    mine = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "day")
    assert mine.total.calls == 4 and mine.total.prompt_tokens == 257
    # The operator's app-wide view adds the users of the app, and only them.
    assert store.usage_report(TENANT.app_id, None, SPAN, "day").total.calls == 5


def test_session_usage_from_the_ledger(store: MongoSessionStore) -> None:
    two_days(store)
    # A call noted as it went out whose answer never came (the process died): counted apart, no tokens.
    store.record_usage_start(TENANT, "s-1", "t4:1", "triage", "reply")
    usage = store.session_usage(TENANT, "s-1")
    assert (usage.total.calls, usage.total.steps, usage.unfinished_calls) == (3, 2, 1)
    assert {m: a.calls for m, a in usage.by_model.items()} == {"gpt-4o": 2, "gpt-4o-mini": 1}
    assert {a: u.steps for a, u in usage.by_agent.items()} == {"triage": 1, "billing": 2}


def test_rebuild_restores_a_rollup_lost_between_commit_and_rollup(store: MongoSessionStore) -> None:
    two_days(store, roll_last=False)
    short = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "day")
    assert short.total.calls == 3  # the crashed step's call is in the ledger, not in the rollups

    written = store.rebuild_usage_rollups(SPAN)
    rebuilt = store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "day")
    assert (rebuilt.total.calls, rebuilt.total.steps) == (4, 3)
    assert written == len(rollup_docs(store))
    # Idempotent: a second rebuild changes nothing.
    before = rollup_docs(store)
    store.rebuild_usage_rollups(SPAN)
    assert rollup_docs(store) == before


def test_rebuild_equals_the_live_rollups(store: MongoSessionStore, client: object, db_name: str) -> None:
    two_days(store)
    live = rollup_docs(store)
    store.usage_daily.delete_many({})
    store.rebuild_usage_rollups(SPAN)
    assert rollup_docs(store) == live


def test_rebuild_of_one_app_and_day_leaves_the_rest(store: MongoSessionStore) -> None:
    two_days(store)
    run_step(store, OTHER_APP, "x1", [call("s-8", "triage", "gpt-4o", DAY1)])
    # A rollup the ledger does not support (a double $inc, a hand edit) inside the rebuilt range goes away.
    store.usage_daily.update_many({"app_id": TENANT.app_id, "day": "2026-03-01"}, {"$inc": {"calls": 5}})
    store.usage_daily.update_many({"app_id": OTHER_APP.app_id}, {"$inc": {"calls": 100}})
    store.rebuild_usage_rollups(
        UsageRange(since=date(2026, 3, 1), until=date(2026, 3, 1)), app_id=TENANT.app_id
    )
    assert store.usage_report(TENANT.app_id, TENANT.user_id, SPAN, "day").total.calls == 4
    # Another app's rollups are not touched by a rebuild scoped to one app.
    assert store.usage_report(OTHER_APP.app_id, OTHER_APP.user_id, SPAN, "day").total.calls == 101

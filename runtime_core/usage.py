"""Usage you can bill from: the daily rollups' shape, the queries over them, and the bucketing both the live
rollup and its rebuild from the ledger use.

The ``usage`` ledger (one document per model call, written as the call returns) is the source of truth. The
``usage_daily`` rollups are a read model of it: per tenant (app and user) and UTC day, one document for the
day's total and one per model, workflow and agent, each with calls, tokens, cost and steps. A step's rollup is
added after its posts (``StepWorker``); a crash between a step's commit and that write leaves a rollup short,
and ``rollup_rows`` over the ledger rebuilds it exactly (``mozaiks usage --rebuild``).

A "step" here is a step that made at least one model call (a billable step): the ledger knows each call's step
(its claim), so the count can be rebuilt. Steps without a model call (a cancel, a refused input) cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# "day" rows are the day's total (key ""); the others are one row per model / workflow / agent and day.
Dimension = Literal["day", "model", "workflow", "agent"]
DIMENSIONS: tuple[Dimension, ...] = ("day", "model", "workflow", "agent")
# A report covers at most this many days (one query, one page).
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


class UsageAmounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # US dollars, from the price table (``runtime_core.llm.prices``) at the time of each call.
    cost: float = 0.0
    steps: int = 0

    def plus(self, other: UsageAmounts) -> UsageAmounts:
        return UsageAmounts(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost=round(self.cost + other.cost, 10),
            steps=self.steps + other.steps,
        )


class UsageRow(UsageAmounts):
    day: str
    # The model, workflow or agent name; "" for a day's total.
    key: str = ""


class UsageRange(BaseModel):
    """An inclusive range of UTC days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: date
    until: date

    @model_validator(mode="after")
    def _ordered(self) -> UsageRange:
        if self.until < self.since:
            raise ValueError("until is before since")
        if (self.until - self.since).days + 1 > MAX_RANGE_DAYS:
            raise ValueError(f"a range covers at most {MAX_RANGE_DAYS} days")
        return self

    @classmethod
    def of(cls, since: date | None, until: date | None, today: date | None = None) -> UsageRange:
        """Defaults: until today (UTC), since ``DEFAULT_RANGE_DAYS`` days before until."""
        until = until or today or datetime.now(UTC).date()
        since = since or until - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        return cls(since=since, until=until)

    @property
    def days(self) -> tuple[str, str]:
        return self.since.isoformat(), self.until.isoformat()

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC datetimes, for ledger queries."""
        start = datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC)
        end = datetime(self.until.year, self.until.month, self.until.day, tzinfo=UTC) + timedelta(days=1)
        return start, end


class UsageReport(BaseModel):
    """A tenant's usage over a range, by one dimension: a row per day and key, and the totals per key."""

    app_id: str
    user_id: str | None
    since: date
    until: date
    by: Dimension
    rows: list[UsageRow] = Field(default_factory=list)
    totals: dict[str, UsageAmounts] = Field(default_factory=dict)
    total: UsageAmounts = Field(default_factory=UsageAmounts)


class SessionUsage(BaseModel):
    """One session's usage, straight from the ledger."""

    session_id: str
    total: UsageAmounts = Field(default_factory=UsageAmounts)
    by_model: dict[str, UsageAmounts] = Field(default_factory=dict)
    by_agent: dict[str, UsageAmounts] = Field(default_factory=dict)
    # Calls noted as they went out whose answer never came (the process died while the provider answered):
    # the provider may have billed them; their tokens are unknown.
    unfinished_calls: int = 0


class LedgerCall(BaseModel):
    """The fields of a ledger document the rollups need."""

    model_config = ConfigDict(extra="ignore")

    app_id: str
    user_id: str
    step: str
    day: str
    model: str = ""
    workflow: str = ""
    agent: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


RollupKey = tuple[str, str, str, str, str]  # app_id, user_id, day, dim, key


def rollup_rows(calls: Iterable[LedgerCall]) -> dict[RollupKey, UsageAmounts]:
    """The rollup documents' amounts for some model calls: per tenant, day, dimension and key. A step counts
    once in each row it has calls in. Used live (one step's calls) and to rebuild from the ledger."""
    amounts: dict[RollupKey, UsageAmounts] = {}
    steps: dict[RollupKey, set[str]] = {}
    for call in calls:
        total = call.prompt_tokens + call.completion_tokens
        one = UsageAmounts(
            calls=1,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            total_tokens=total,
            cost=call.cost,
        )
        for dim, key in (
            ("day", ""),
            ("model", call.model),
            ("workflow", call.workflow),
            ("agent", call.agent),
        ):
            row = (call.app_id, call.user_id, call.day, dim, key)
            amounts[row] = amounts.get(row, UsageAmounts()).plus(one)
            steps.setdefault(row, set()).add(call.step)
    return {row: a.model_copy(update={"steps": len(steps[row])}) for row, a in amounts.items()}


def day_of(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d")

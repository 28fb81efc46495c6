"""Shared test data for the store suite: tenants, a controllable clock, a command counter, step results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import bson
from pymongo import monitoring

from runtime_core.events import AgentMessage, Event
from runtime_core.session import ChatMessage, SessionState, Tenant, UsageRecord
from runtime_core.store import Claim

TENANT = Tenant(app_id="app-1", user_id="user-1")
OTHER = Tenant(app_id="app-1", user_id="user-2")
OTHER_APP = Tenant(app_id="app-2", user_id="user-1")


@dataclass
class FakeClock:
    """Lets a test move past a lease's expiry without sleeping."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CommandCounter(monitoring.CommandListener):
    """The commands a store sends (their names), and the bytes of the replies it reads."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.reply_bytes = 0

    def clear(self) -> None:
        self.commands.clear()
        self.reply_bytes = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.reply_bytes += len(bson.encode(event.reply))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def new_state(session_id: str | None = None, tenant: Tenant = TENANT) -> SessionState:
    return SessionState(
        session_id=session_id or f"s-{uuid.uuid4().hex[:10]}",
        app_id=tenant.app_id,
        user_id=tenant.user_id,
        workflow_name="CustomerSupport",
        workflow_hash="sha256:abc",
        next_speaker="triage",
        context_variables={"tier": "gold", "nested": {"a": [1, 2]}},
    )


def step(
    claim: Claim, n_messages: int = 2, n_events: int = 2, n_usage: int = 1, consumed: list[str] | None = None
) -> tuple[SessionState, list[ChatMessage], list[Event], list[UsageRecord], list[str]]:
    """A well-formed step result following the claimed state (what the engine would hand the worker)."""
    state = claim.state
    first = state.messages[-1].seq + 1 if state.messages else 0
    messages = [
        ChatMessage(
            seq=first + i,
            speaker="triage",
            role="assistant",
            content=f"reply {first + i}",
            raw={"content": f"reply {first + i}", "name": "triage"},
            turn=state.turn + 1,
        )
        for i in range(n_messages)
    ]
    events: list[Event] = [
        AgentMessage(
            session_id=claim.session_id,
            seq=state.last_event_seq + 1 + i,
            agent="triage",
            content=f"event {state.last_event_seq + 1 + i}",
            turn=state.turn + 1,
        )
        for i in range(n_events)
    ]
    usage = [
        UsageRecord(
            session_id=claim.session_id,
            agent="triage",
            model="gpt-4o-mini",
            prompt_tokens=10,
            completion_tokens=5,
            cost=0.001,
            turn=state.turn + 1,
        )
        for _ in range(n_usage)
    ]
    next_state = state.model_copy(
        update={
            "messages": [],
            "turn": state.turn + 1,
            "started": True,
            "last_event_seq": state.last_event_seq + n_events,
            "usage": state.usage.add(usage),
            "engine": {"counters": {"triage": state.turn + 1}},
        }
    )
    return next_state, messages, events, usage, consumed or []

"""Claim + commit cost per step at 10 / 100 / 1,000 messages of history.

    python bench/store.py [--steps 20]

Uses MONGODB_URI when set (database ``mozaiks_bench``, dropped afterwards), else an embedded mongoeco memory
server. Prints milliseconds per step (median and p90 of claim, commit and both) and database round trips
(commands seen by pymongo command monitoring) per step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections import Counter
from typing import Any

from pymongo import MongoClient, monitoring

from runtime_core.events import AgentMessage, Event
from runtime_core.session import ChatMessage, SessionState, Tenant, UsageRecord, UserInput
from runtime_core.store import Claim, MongoSessionStore, StoreSettings, start_embedded

TENANT = Tenant(app_id="bench", user_id="bench-user")


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def step_result(
    claim: Claim, n_messages: int, input_id: str | None
) -> tuple[SessionState, list[ChatMessage], list[Event], list[UsageRecord], list[str]]:
    """A typical step: a few replies of ~400 characters, 3 events, one model call."""
    state = claim.state
    first = state.messages[-1].seq + 1 if state.messages else 0
    text = "lorem ipsum dolor sit amet " * 15
    messages = [
        ChatMessage(seq=first + i, speaker="agent", role="assistant", content=text, raw={"content": text})
        for i in range(n_messages)
    ]
    events: list[Event] = [
        AgentMessage(
            session_id=claim.session_id,
            seq=state.last_event_seq + 1 + i,
            agent="agent",
            content="x",
            turn=state.turn + 1,
        )
        for i in range(3)
    ]
    usage = [UsageRecord(session_id=claim.session_id, agent="agent", model="m", prompt_tokens=100)]
    next_state = state.model_copy(
        update={"messages": [], "turn": state.turn + 1, "last_event_seq": state.last_event_seq + 3}
    )
    return next_state, messages, events, usage, [input_id] if input_id else []


def run(store: MongoSessionStore, commands: Commands, history: int, steps: int) -> dict[str, Any]:
    session_id = f"bench-{uuid.uuid4().hex[:8]}"
    store.create_session(
        SessionState(
            session_id=session_id,
            app_id=TENANT.app_id,
            user_id=TENANT.user_id,
            workflow_name="Bench",
            workflow_hash="h",
        )
    )
    while (count := _count(store, session_id)) < history:
        claim = store.claim(TENANT, session_id, "seed")
        assert isinstance(claim, Claim)
        store.commit(claim, *step_result(claim, min(1000, history - count), None))
    claim_ms: list[float] = []
    commit_ms: list[float] = []
    trips: Counter[int] = Counter()
    for n in range(steps):
        input_id = f"{session_id}-{n}"
        store.record_input(TENANT, session_id, UserInput(input_id=input_id, kind="message", text="hi"))
        commands.names.clear()
        t0 = time.perf_counter()
        claim = store.claim(TENANT, session_id, "worker")
        t1 = time.perf_counter()
        assert isinstance(claim, Claim)
        result = step_result(claim, 2, input_id)
        t2 = time.perf_counter()
        store.commit(claim, *result)
        t3 = time.perf_counter()
        claim_ms.append((t1 - t0) * 1000)
        commit_ms.append((t3 - t2) * 1000)
        trips[len(commands.names)] += 1
        # Keep the history where it was measured: the next step starts from the same length.
        store.messages.delete_many({"session_id": session_id, "seq": {"$gte": history}})
        store.sessions.update_one({"_id": session_id}, {"$set": {"message_count": history}})
    total = [a + b for a, b in zip(claim_ms, commit_ms, strict=True)]
    return {
        "history": history,
        "claim": claim_ms,
        "commit": commit_ms,
        "total": total,
        "trips": dict(trips),
    }


def _count(store: MongoSessionStore, session_id: str) -> int:
    doc = store.sessions.find_one({"_id": session_id}, {"message_count": 1})
    return int(doc["message_count"]) if doc else 0


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI")
    server = None if uri else start_embedded("memory")
    commands = Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri or server.uri,
        tz_aware=True,  # type: ignore[union-attr]
        event_listeners=[commands],
    )
    store = MongoSessionStore(client, StoreSettings(db_name="mozaiks_bench"))
    try:
        client.drop_database("mozaiks_bench")
        store.ensure_indexes()
        print(
            f"database: {'MONGODB_URI' if uri else 'embedded mongoeco 4.11 (memory engine)'}, "
            f"{args.steps} steps per size, each step = 2 new messages + 3 events + 1 usage record + 1 input"
        )
        print(
            f"{'history':>8} {'claim ms p50/p90':>18} {'commit ms p50/p90':>18} {'step ms p50/p90':>16}"
            f" {'round trips/step':>17}"
        )
        for history in (10, 100, 1000):
            r = run(store, commands, history, args.steps)
            trips = ", ".join(
                f"{k}" + (f" (x{v})" if len(r["trips"]) > 1 else "") for k, v in r["trips"].items()
            )
            print(
                f"{history:>8} {statistics.median(r['claim']):>9.1f}/{_p(r['claim'], 0.9):<8.1f}"
                f" {statistics.median(r['commit']):>9.1f}/{_p(r['commit'], 0.9):<8.1f}"
                f" {statistics.median(r['total']):>8.1f}/{_p(r['total'], 0.9):<7.1f} {trips:>17}"
            )
    finally:
        client.drop_database("mozaiks_bench")
        client.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()

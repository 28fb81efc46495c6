"""Store cost per step, side by side with LangGraph's MongoDB checkpointer on the same server.

For histories of 10, 1,000 and 10,000 messages, one step = claim (the session header, its pending input, the
transcript) + commit (2 new messages of ~400 characters, 3 events). Measured for:

- **mozaiks, warm**: the same container claims step after step (its transcript cache holds the history);
- **mozaiks, cold**: a new container (a new store object) for every step: it reads the whole transcript;
- **LangGraph**: a ``StateGraph`` over ``MessagesState`` whose node appends 2 messages, compiled with
  ``MongoDBSaver`` (``langgraph-checkpoint-mongodb``), one ``invoke`` per step on the same thread; only the
  checkpointer's own calls are timed (``get_tuple``, ``put``, ``put_writes``), not LangGraph's graph work.

Each printed row: database round trips per step, bytes the client read per step, and the median store time per
step (ms), with the ratio of mozaiks to LangGraph. The history is held at its size: after each measured step,
the step is rolled back (bench only). LangGraph is optional: ``pip install langgraph
langgraph-checkpoint-mongodb`` into the same environment, or its columns print as n/a.

Run: ``python bench/store.py [--steps 15]`` (embedded mongoeco by default;
``MONGODB_URI=...`` for a real one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from typing import Any

import bson
from pymongo import MongoClient, monitoring

from runtime_core.events import AgentMessage, Event
from runtime_core.session import ChatMessage, SessionState, Tenant, UsageRecord, UserInput
from runtime_core.store import Claim, MongoSessionStore, StoreSettings, start_embedded

TENANT = Tenant(app_id="bench", user_id="bench-user")
TEXT = "lorem ipsum dolor sit amet " * 15
SIZES = (10, 1000, 10_000)


class Meter(monitoring.CommandListener):
    """Round trips (commands) and bytes read (reply documents) on one client."""

    def __init__(self) -> None:
        self.commands = 0
        self.read = 0

    def reset(self) -> None:
        self.commands = 0
        self.read = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.read += len(bson.encode(event.reply))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Figures:
    def __init__(self) -> None:
        self.trips: list[int] = []
        self.read: list[int] = []
        self.ms: list[float] = []

    def add(self, trips: int, read: int, ms: float) -> None:
        self.trips.append(trips)
        self.read.append(read)
        self.ms.append(ms)

    def row(self) -> tuple[str, str, float]:
        trips = statistics.median(self.trips)
        return f"{trips:g}", _kb(statistics.median(self.read)), statistics.median(self.ms)


def _kb(n: float) -> str:
    return f"{n / 1000:.1f} KB" if n < 1_000_000 else f"{n / 1_000_000:.2f} MB"


# ---- mozaiks ---------------------------------------------------------------------------------------------
def step_result(
    claim: Claim,
) -> tuple[SessionState, list[ChatMessage], list[Event], list[UsageRecord], list[str]]:
    state = claim.state
    first = claim.message_count
    messages = [
        ChatMessage(seq=first + i, speaker="agent", role="assistant", content=TEXT, raw={"content": TEXT})
        for i in range(2)
    ]
    events: list[Event] = [
        AgentMessage(
            session_id=claim.session_id,
            seq=state.last_event_seq + 1 + i,
            agent="agent",
            content="x",
            turn=state.turn,
        )
        for i in range(3)
    ]
    next_state = state.model_copy(
        update={"messages": [], "turn": state.turn + 1, "last_event_seq": state.last_event_seq + 3}
    )
    consumed = [p.input_id for p in claim.pending_inputs]
    return next_state, messages, events, [], consumed


def seed(store: MongoSessionStore, session_id: str, history: int) -> None:
    store.create_session(
        SessionState(
            session_id=session_id,
            app_id=TENANT.app_id,
            user_id=TENANT.user_id,
            workflow_name="B",
            workflow_hash="h",
        )
    )
    while (count := store.sessions.find_one({"_id": session_id})["message_count"]) < history:  # type: ignore[index]
        claim = store.claim(TENANT, session_id, "seed")
        assert isinstance(claim, Claim)
        n = min(1000, history - count)
        messages = [
            ChatMessage(seq=count + i, speaker="agent", role="assistant", content=TEXT, raw={"content": TEXT})
            for i in range(n)
        ]
        store.commit(claim, claim.state.model_copy(update={"messages": []}), messages, [], [], [])


def mozaiks_step(store: MongoSessionStore, meter: Meter, session_id: str, n: int) -> tuple[int, int, float]:
    """One measured step; then rolled back so the history stays at its size."""
    store.record_input(TENANT, session_id, UserInput(input_id=f"in-{n}", kind="message", text="hi"))
    before = store.sessions.find_one({"_id": session_id})
    assert before is not None
    held = store.transcripts.get(session_id)
    meter.reset()
    t0 = time.perf_counter()
    claim = store.claim(TENANT, session_id, "worker")
    assert isinstance(claim, Claim)
    store.commit(claim, *step_result(claim), usage_recorded=True)
    ms = (time.perf_counter() - t0) * 1000
    measured = (meter.commands, meter.read, ms)  # before the rollback's own commands
    # Roll back (bench only): the step document goes, the header and the container's cache return.
    store.steps.delete_one({"_id": f"{session_id}/{before['step_count'] + 1:010d}"})
    store.sessions.replace_one({"_id": session_id}, {**before, "pending": []})
    if held is not None:
        store.transcripts.put(session_id, held.step_count, held.messages)
    return measured


def measure_mozaiks(
    client: MongoClient[dict[str, Any]], meter: Meter, history: int, steps: int
) -> tuple[Figures, Figures]:
    settings = StoreSettings(db_name="mozaiks_bench")
    store = MongoSessionStore(client, settings)
    session_id = f"bench-{uuid.uuid4().hex[:8]}"
    seed(store, session_id, history)
    warm, cold = Figures(), Figures()
    mozaiks_step(store, meter, session_id, -1)  # fills this container's cache
    for n in range(steps):
        warm.add(*mozaiks_step(store, meter, session_id, n))
    for n in range(steps):
        fresh = MongoSessionStore(client, settings)  # a new container: nothing in memory
        cold.add(*mozaiks_step(fresh, meter, session_id, steps + n))
    return warm, cold


# ---- LangGraph -------------------------------------------------------------------------------------------
def measure_langgraph(uri: str, history: int, steps: int) -> Figures | None:
    try:
        from langchain_core.messages import AIMessage, HumanMessage
        from langgraph.checkpoint.mongodb import MongoDBSaver
        from langgraph.graph import END, START, MessagesState, StateGraph
    except ImportError:
        return None
    meter = Meter()
    client: MongoClient[dict[str, Any]] = MongoClient(uri, event_listeners=[meter])
    saver = MongoDBSaver(client, db_name="langgraph_bench")
    timed = {"ms": 0.0}

    def timing(name: str) -> None:
        original = getattr(saver, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timed["ms"] += (time.perf_counter() - t0) * 1000

        setattr(saver, name, wrapped)

    for name in ("get_tuple", "put", "put_writes"):
        timing(name)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(TEXT), AIMessage(TEXT)]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    graph.add_edge("agent", END)
    app = graph.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    remaining = history
    while remaining > 0:
        chunk = min(1000, remaining)
        app.invoke({"messages": [HumanMessage(TEXT) for _ in range(chunk - 2)] if chunk > 2 else []}, config)
        remaining -= chunk
    figures = Figures()
    try:
        for _ in range(steps):
            meter.reset()
            timed["ms"] = 0.0
            app.invoke({"messages": [HumanMessage("hi")]}, config)
            figures.add(meter.commands, meter.read, timed["ms"])
    finally:
        client.drop_database("langgraph_bench")
        client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI")
    server = None if uri else start_embedded("memory")
    address = uri or server.uri  # type: ignore[union-attr]
    meter = Meter()
    client: MongoClient[dict[str, Any]] = MongoClient(address, tz_aware=True, event_listeners=[meter])
    try:
        client.drop_database("mozaiks_bench")
        MongoSessionStore(client, StoreSettings(db_name="mozaiks_bench")).ensure_indexes()
        where = "MONGODB_URI" if uri else "embedded mongoeco 4.11 (memory engine)"
        print(
            f"database: {where}; {args.steps} steps per row; a step = claim + commit of "
            "2 messages (~400 characters) and 3 events; medians"
        )
        header = (
            f"{'history':>8} {'store':<16} {'round trips':>11} {'read/step':>11} "
            f"{'ms/step':>9} {'vs LangGraph':>13}"
        )
        print(header)
        for history in SIZES:
            warm, cold = measure_mozaiks(client, meter, history, args.steps)
            graph = measure_langgraph(address, history, args.steps)
            base = graph.row()[2] if graph is not None else None
            rows = [("mozaiks, warm", warm), ("mozaiks, cold", cold), ("LangGraph", graph)]
            for label, figures in rows:
                if figures is None:
                    print(f"{history:>8} {label:<16} {'n/a (pip install langgraph-checkpoint-mongodb)':>47}")
                    continue
                trips, read, ms = figures.row()
                ratio = f"{ms / base:.2f}x" if base else "-"
                print(f"{history:>8} {label:<16} {trips:>11} {read:>11} {ms:>9.1f} {ratio:>13}")
    finally:
        client.drop_database("mozaiks_bench")
        client.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()

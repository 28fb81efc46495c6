"""A whole worker step, warm and cold, at 10 and 1,000 messages: what one SQS delivery costs, model excluded.

The step is ``StepWorker.process`` exactly as the Lambda worker runs it: claim (the session header, and the
messages this container does not hold), decide, run the engine (one AG2 step, replaying the history), commit
(the step document and the header's compare-and-set), note each model call in the usage ledger before and
after it, post the events to the session's one live connection, queue the next step. The store is MongoDB's
wire protocol served by the embedded mongoeco memory engine (``MONGODB_URI=...`` for a real server); the
Management API and SQS are in-process doubles that cost nothing, so what is timed is the runtime's own work.

- warm: the same container steps the same session again (the Lambda worker's usual case: SQS FIFO delivers a
  session's steps one after the other to whichever container is free, and a busy deployment keeps them warm);
- cold: a container that holds nothing of the session (a new store object: no transcript cached; the built
  AG2 groups dropped), but with its imports and the compiled workflow done (cold imports and init:
  ``bench/cold_start.py``).

The scripted model's own time (answering from the script) is subtracted. The workflow is two agents in round
robin (bench/step.py's), each step one model call and one message, so a session steps on by itself.
Printed: medians of ``--steps`` steps, the store round trips per step (every command), and the split.

Run: ``python bench/worker_step.py [--steps 20]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient, monitoring

# The step worker logs every step at INFO: the bench's own output is the table.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step import REPLY, TimedModel, bench_workflow, driven, extended

from runtime_core.engine.warm import POOL
from runtime_core.llm.script import Script
from runtime_core.queue import StepMessage
from runtime_core.services import Services
from runtime_core.session import Tenant
from runtime_core.store import Claim, MongoSessionStore, StoreSettings, start_embedded
from runtime_core.transport.memory import InMemoryPoster
from runtime_core.worker.step_worker import StepWorker
from runtime_core.workflow import Workflow

TENANT = Tenant(app_id="bench-app", user_id="bench-user")
HISTORIES = (10, 1000)
CONNECTION = "conn-1"
CALLBACK = "https://example.execute-api.us-east-1.amazonaws.com/prod"


class Commands(monitoring.CommandListener):
    """Store round trips, and the time the client waited on them."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += 1
        if os.environ.get("BENCH_TRACE"):
            print("   ", event.command_name, event.command.get(event.command_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.seconds += event.duration_micros / 1e6

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.seconds += event.duration_micros / 1e6


class ListQueue:
    """SQS in a list: the worker's ``enqueue`` of the next step."""

    def __init__(self) -> None:
        self.messages: list[StepMessage] = []

    def enqueue(self, message: StepMessage) -> None:
        self.messages.append(message)


class Container:
    """One worker container: its store object (and transcript cache), its poster, its queue."""

    def __init__(self, client: MongoClient[dict[str, Any]], root: Path, model: TimedModel) -> None:
        self.store = MongoSessionStore(client, StoreSettings(db_name="mozaiks_bench_worker"))
        self.queue = ListQueue()
        self.poster = InMemoryPoster()
        self.poster.connect(CONNECTION)
        services = Services(
            store_factory=lambda: self.store,
            queue_factory=lambda: self.queue,  # type: ignore[arg-type,return-value]
            poster_factory_factory=lambda: lambda endpoint: self.poster,
            workflows_dir=root,
        )
        self.worker = StepWorker(
            services,
            lease_seconds=30,
            callback_url=CALLBACK,
            provider_for=lambda workflow: model,
            on_metrics=lambda *args, **kwargs: None,
            owner="bench",
        )


def seed(
    store: MongoSessionStore, workflow: Workflow, model: TimedModel, history: int, sid: str
) -> StepMessage:
    """A session at ``history`` messages with a live connection, and its next step's message."""
    state = extended(driven(workflow, model, min(history, 10), session_id=sid), history)
    state = state.model_copy(update={"app_id": TENANT.app_id, "user_id": TENANT.user_id})
    # The seeded history's events are not stored (the bench times steps, not replays of events).
    messages, empty = state.messages, state.model_copy(update={"messages": [], "last_event_seq": 0})
    fresh = empty.model_copy(update={"turn": 0, "last_event_seq": 0, "engine": {}})
    store.create_session(fresh)
    claim = store.claim(TENANT, sid, "seed")
    assert isinstance(claim, Claim), claim
    store.commit(claim, empty, messages, [], [], [])
    store.put_connection(CONNECTION, TENANT, endpoint=CALLBACK)
    store.subscribe(TENANT, CONNECTION, sid)
    return StepMessage.of(TENANT, sid, "continue", f"{sid}-seed")


def one_step(
    container: Container, message: StepMessage, model: TimedModel, commands: Commands
) -> dict[str, float]:
    model.seconds = 0.0
    commands.count, commands.seconds = 0, 0.0
    start = time.perf_counter()
    report = container.worker.process(message)
    total = time.perf_counter() - start
    assert report.action == "run" and report.posts == 1 and report.enqueued, report
    return {
        "step": (total - model.seconds) * 1000,
        "store": commands.seconds * 1000,
        "trips": commands.count,
    }


def measure(
    client: MongoClient[dict[str, Any]],
    commands: Commands,
    root: Path,
    workflow: Workflow,
    model: TimedModel,
    history: int,
    steps: int,
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    warm: list[dict[str, float]] = []
    cold: list[dict[str, float]] = []
    container = Container(client, root, model)
    message = seed(container.store, workflow, model, history, f"w{history}")
    container.worker.process(message)  # fills this container's caches
    for _ in range(steps):
        message = container.queue.messages[-1]
        warm.append(one_step(container, message, model, commands))
    seeder = Container(client, root, model)
    for n in range(steps):
        message = seed(seeder.store, workflow, model, history, f"c{history}-{n}")
        POOL.clear()  # a new container: no built groups ...
        fresh = Container(client, root, model)  # ... and no transcript
        cold.append(one_step(fresh, message, model, commands))
    return warm, cold


def row(label: str, history: int, samples: list[dict[str, float]]) -> tuple[str, ...]:
    def median(key: str) -> float:
        return statistics.median(s[key] for s in samples)

    step, store = median("step"), median("store")
    return (
        str(history),
        label,
        f"{median('trips'):g}",
        f"{store:.1f} ms",
        f"{step - store:.1f} ms",
        f"{step:.1f} ms",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI")
    server = None if uri else start_embedded("memory")
    commands = Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri or server.uri,  # type: ignore[union-attr]
        tz_aware=True,
        event_listeners=[commands],
    )
    try:
        client.drop_database("mozaiks_bench_worker")
        MongoSessionStore(client, StoreSettings(db_name="mozaiks_bench_worker")).ensure_indexes()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "Bench").mkdir()
            workflow = bench_workflow(root / "Bench")
            turns = max(HISTORIES) + 4 * args.steps + 50
            model = TimedModel(
                Script.model_validate({"replies": {"A": [REPLY] * turns, "B": [REPLY] * turns}})
            )
            rows = [("history", "container", "round trips", "store", "rest (engine, posts)", "worker step")]
            for history in HISTORIES:
                warm, cold = measure(client, commands, root, workflow, model, history, args.steps)
                rows += [row("warm", history, warm), row("cold", history, cold)]
        where = "MONGODB_URI" if uri else "embedded mongoeco 4.11 (memory engine)"
        print(f"Worker step, model excluded; medians of {args.steps} steps; store: {where}")
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)))
        print("targets (issue 12): warm step at most 20 ms at 10 messages, 120 ms at 1,000")
    finally:
        client.drop_database("mozaiks_bench_worker")
        client.close()
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

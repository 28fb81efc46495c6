"""What a step costs, before and after the warm-container work, and what exact resume costs over AG2 itself.

One workflow (two agents in round robin, on the scripted model), histories of 10 and 1,000 messages. Timed
like a step worker runs a step, minus the store: parse the stored state from JSON, ``run_step``, serialise
the next state to JSON. The scripted model's own time (answering from the script) is subtracted: engine time,
model excluded. Medians of several runs, all in one process:

- before: the engine as it was (``tuning.ALL_OFF``): every step builds its agents and AG2 clients, deep-copies
  the state and every replayed message, and the OpenAI SDK transforms every request;
- cold step (after): a step that finds no built group (a fresh process, or a new workflow version);
- warm step (after): a step that reuses a group an earlier step built (a warm Lambda, ``mozaiks serve``);
- a bare AG2 round, in a chat that already lives in memory with that history: select the speaker, generate
  its reply, append and broadcast it (one iteration of ``GroupChatManager.run_chat``), with the SDK's
  request transform (AG2 as shipped) and with the thin call the engine uses.

Then the example workflows (more agents, tools, LLM handoffs: building them costs more), one step each from
their frozen states, before / cold / warm. Then concurrency: 4 sessions of the same workflow stepped on 4
threads with a model that answers in 20 ms, with the pool (each concurrent step leases its own group) and
with one lock around the workflow's agents (what a single shared agent set would need).

The 1,000-message state is the 30-message history of a real run extended with the same turns; the bench
checks the extension against a real 30-message run first.

Then tracing's cost: a warm step with the spans a worker opens around it (step, claim, engine, commit, post)
plus the engine's own (agent turn, model call), with tracing off (the port's no-op) and on (the OpenTelemetry
SDK, batched export to an exporter that drops the spans: the cost of making them, not of a network).

Run: ``python bench/step.py`` (everything) or ``python bench/step.py --tracing`` (the tracing section only).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

from runtime_core.engine import tuning
from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.driver import drive
from runtime_core.engine.group import build_group
from runtime_core.engine.step import run_step
from runtime_core.engine.warm import POOL
from runtime_core.llm import fastpath
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import DEFAULT_TIMEOUT
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState
from runtime_core.workflow import Workflow, load_workflow

ROOT = Path(__file__).resolve().parents[1]
# Frozen states of the example workflows (tests/engine/test_engine_fixtures.py): each steps on from there.
EXAMPLES = ("CustomerSupport", "ContentReview", "TripPlanner")
FIXTURES = ROOT / "tests" / "fixtures" / "state" / "v1"
HISTORIES = (10, 1000)
REPEATS = 15
REPLY = "A reply of about the length agents give in a chat, a sentence or two, with some detail in it."
THREADS, STEPS_PER_THREAD, LATENCY = 4, 5, 0.020


class TimedModel(ScriptedModel):
    """The scripted model, timing itself: what it spends answering is model time, not engine time."""

    def __init__(self, script: Script, latency: float = 0.0) -> None:
        super().__init__(script)
        self.latency = latency
        self.seconds = 0.0

    def _handle(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        try:
            if self.latency:
                time.sleep(self.latency)
            return super()._handle(request)
        finally:
            self.seconds += time.perf_counter() - start


def bench_workflow(root: Path) -> Workflow:
    # AG2 stops an agent after 100 consecutive auto replies by default: a long history needs more.
    many = 100_000
    files = {
        "orchestrator.yaml": {
            "workflow_name": "Bench",
            "orchestration_strategy": "round_robin",
            "startup_mode": "agent_first",
            "human_in_the_loop": False,
            "max_turns": 10_000,
            "initial_message": "Discuss the plan.",
            "llm_config": {"model": "gpt-4o-mini"},
        },
        "agents.yaml": {
            "agents": [
                {"name": "A", "system_message": "You are A, a planner.", "max_consecutive_auto_reply": many},
                {"name": "B", "system_message": "You are B, a reviewer.", "max_consecutive_auto_reply": many},
            ]
        },
    }
    for name, data in files.items():
        (root / name).write_text(yaml.safe_dump(data))
    return load_workflow(root)


def driven(workflow: Workflow, model: ScriptedModel, messages: int, session_id: str = "b") -> SessionState:
    # Each step adds one message (the first adds two); stop when the history has the wanted length.
    run = drive(workflow, model, lambda request: None, max_steps=messages - 1, session_id=session_id)
    assert len(run.state.messages) == messages, len(run.state.messages)
    return run.state


def extended(state: SessionState, messages: int) -> SessionState:
    """A round-robin history made longer by repeating its last two turns, with the counts that go with it."""
    out = state.model_copy(deep=True)
    while len(out.messages) < messages:
        turn = out.messages[-2].model_copy(deep=True)
        turn.seq = turn.turn = len(out.messages)
        out.messages.append(turn)
    replies = {"A": (messages) // 2, "B": (messages - 1) // 2}
    out.turn = messages - 1
    out.engine["model_calls"] = dict(replies)
    out.engine["counters"] = {name: {"chat_manager": n} for name, n in replies.items()}
    out.next_speaker = "B" if out.messages[-1].speaker == "A" else "A"
    return out


def check_extension(workflow: Workflow, model: ScriptedModel) -> None:
    real = driven(workflow, model, 30)
    made = extended(driven(workflow, model, 10), 30)

    def view(s: SessionState) -> Any:
        messages = [(m.seq, m.speaker, m.role, m.raw, m.turn) for m in s.messages]
        return messages, s.turn, s.engine, s.next_speaker

    assert view(made) == view(real), "the extended history is not what a real run makes"


def time_step(workflow: Workflow, model: TimedModel, stored: str) -> float:
    """Median engine time of a step from ``stored`` (JSON in, JSON out), model time subtracted."""
    samples = []
    for _ in range(REPEATS):
        model.seconds = 0.0
        start = time.perf_counter()
        result = run_step(SessionState.model_validate_json(stored), workflow, model)
        result.state.model_dump_json()
        samples.append(time.perf_counter() - start - model.seconds)
        assert result.new_messages and result.error_code is None, result.events
    return statistics.median(samples)


def time_cold(workflow: Workflow, model: TimedModel, stored: str, setting: tuning.Tuning) -> float:
    with tuning.tuned(setting):
        return time_step(workflow, model, stored)


def time_warm(workflow: Workflow, model: TimedModel, stored: str) -> float:
    with tuning.tuned(tuning.ALL_ON):
        run_step(SessionState.model_validate_json(stored), workflow, model)  # builds the group it reuses
        builds = POOL.builds
        seconds = time_step(workflow, model, stored)
        assert POOL.builds == builds, "a warm step built agents"
        return seconds


def time_bare_round(workflow: Workflow, model: TimedModel, state: SessionState, thin: bool) -> float:
    from autogen.io.base import IOStream

    from runtime_core.engine.humanio import StepIO

    compiled = compile_workflow(workflow)
    meter = CallMeter(model.transport(), state.engine.get("model_calls", {}), timeout=DEFAULT_TIMEOUT)
    samples = []
    fastpath.set_thin(thin)
    try:
        with IOStream.set_default(StepIO()):
            group = build_group(compiled, state, model, state.messages[0].raw)
            group.begin(state, meter)
            for message in state.messages:
                group.commit(group.participant(message.speaker), message.raw)
            last = group.participant(state.messages[-1].speaker)
            for _ in range(REPEATS):
                model.seconds = 0.0
                start = time.perf_counter()
                speaker = group.select_next(last, started=True)
                reply = speaker.generate_reply(sender=group.manager)
                group.commit(speaker, reply)
                samples.append(time.perf_counter() - start - model.seconds)
                last = speaker
    finally:
        fastpath.set_thin(tuning.current().thin_requests)
        meter.close()
    return statistics.median(samples)


def concurrent(workflow: Workflow, script: Script, states: list[str], locked: bool) -> tuple[float, int]:
    """Wall time of THREADS threads, each stepping its own session STEPS_PER_THREAD times; groups built."""
    lock = threading.Lock()

    def session(stored: str) -> None:
        model = TimedModel(script, latency=LATENCY)
        state = SessionState.model_validate_json(stored)
        for _ in range(STEPS_PER_THREAD):
            if locked:
                with lock:
                    state = run_step(state, workflow, model).state
            else:
                state = run_step(state, workflow, model).state

    with tuning.tuned(tuning.ALL_ON):
        start = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(session, states))
        return time.perf_counter() - start, POOL.builds


class _Dropped:
    """A span exporter that keeps nothing but a count: what the spans cost to make and batch, no network."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def traced_once(workflow: Workflow, model: TimedModel, stored: str) -> float:
    """One warm step with the worker's spans around the engine (their store and post work left out)."""
    from runtime_core.telemetry import tracing

    model.seconds = 0.0
    start = time.perf_counter()
    with tracing.span("mozaiks.step", {"mozaiks.session_id": "b"}, kind="consumer"):
        with tracing.span("mozaiks.claim"):
            state = SessionState.model_validate_json(stored)
        with tracing.span("mozaiks.engine"):
            result = run_step(state, workflow, model)
        with tracing.span("mozaiks.commit"):
            result.state.model_dump_json()
        with tracing.span("mozaiks.post"):
            pass
    return time.perf_counter() - start - model.seconds


def tracing_overhead(workflow: Workflow, model: TimedModel, pairs: int = 40) -> None:
    """Off and on alternate step by step, so both see the same machine (other processes, caches)."""
    from runtime_core.telemetry import tracing
    from runtime_core.telemetry.otel import backend

    rows = [("history", "tracing off", "tracing on", "overhead (median of pairs)", "spans per step")]
    for messages in HISTORIES:
        stored = extended(driven(workflow, model, min(messages, 10)), messages).model_dump_json()
        dropped = _Dropped()
        traced = backend(dropped, "bench")
        off: list[float] = []
        on: list[float] = []
        with tuning.tuned(tuning.ALL_ON):
            run_step(SessionState.model_validate_json(stored), workflow, model)  # the warm group
            for _ in range(pairs):
                off.append(traced_once(workflow, model, stored))
                previous = tracing.install(traced)
                try:
                    on.append(traced_once(workflow, model, stored))
                finally:
                    tracing.install(previous)
            traced.flush()
        overhead = statistics.median(b - a for a, b in zip(off, on, strict=True))
        rows.append(
            (
                str(messages),
                ms(statistics.median(off)),
                ms(statistics.median(on)),
                f"{overhead * 1000:+.2f} ms",
                f"{dropped.spans / pairs:.0f}",
            )
        )
    print(
        f"\nTracing, a warm step with the worker's and the engine's spans ({pairs} steps each, alternating):"
    )
    table(rows)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workflow = bench_workflow(Path(tmp))
        turns = max(HISTORIES) + 8 * REPEATS
        script = Script.model_validate({"replies": {"A": [REPLY] * turns, "B": [REPLY] * turns}})
        model = TimedModel(script)
        compile_workflow(workflow)
        if "--tracing" in sys.argv[1:]:
            tracing_overhead(workflow, model)
            return 0
        check_extension(workflow, model)
        rows = [("history", "before", "cold step", "warm step", "bare AG2 round", "bare, thin", "warm/bare")]
        ratios = []
        for messages in HISTORIES:
            state = driven(workflow, model, min(messages, 10))
            state = extended(state, messages)
            stored = state.model_dump_json()
            before = time_cold(workflow, model, stored, tuning.ALL_OFF)
            cold = time_cold(workflow, model, stored, tuning.Tuning(reuse_groups=False))
            warm = time_warm(workflow, model, stored)
            bare = time_bare_round(workflow, model, state, thin=False)
            bare_thin = time_bare_round(workflow, model, state, thin=True)
            ratio = f"{warm / bare:.2f}x"
            rows.append((str(messages), ms(before), ms(cold), ms(warm), ms(bare), ms(bare_thin), ratio))
            ratios.append(f"{messages} messages {warm / bare_thin:.1f}x")
        print("Engine time per step, model excluded (medians of", REPEATS, "steps):")
        table(rows)
        # What exact resume itself costs: parse, replay of the history, serialise (the same thin call).
        print("warm step / bare AG2 round with the thin call:", ", ".join(ratios))

        rows = [("example workflow", "before", "cold step", "warm step")]
        for name in EXAMPLES:
            example = load_workflow(ROOT / "workflows" / name)
            example_model = TimedModel(load_script(example.root / "script.yaml"))
            stored = (FIXTURES / f"{name}.json").read_text()
            compile_workflow(example)
            before = time_cold(example, example_model, stored, tuning.ALL_OFF)
            cold = time_cold(example, example_model, stored, tuning.Tuning(reuse_groups=False))
            warm = time_warm(example, example_model, stored)
            rows.append((name, ms(before), ms(cold), ms(warm)))
        print("\nThe example workflows' next step from their frozen states (tests/fixtures/state/v1):")
        table(rows)

        states = [driven(workflow, model, 10, session_id=f"s{i}").model_dump_json() for i in range(THREADS)]
        pooled, built = concurrent(workflow, script, states, locked=False)
        locked, built_locked = concurrent(workflow, script, states, locked=True)
        steps = THREADS * STEPS_PER_THREAD
        latency = f"model latency {LATENCY * 1000:.0f} ms"
        print(f"\n{THREADS} sessions on {THREADS} threads, {steps} steps, {latency}:")
        table(
            [
                ("shared agents", "wall time", "groups built"),
                ("pool per workflow", ms(pooled), str(built)),
                ("one set + lock", ms(locked), str(built_locked)),
            ]
        )
        tracing_overhead(workflow, TimedModel(script))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What exact resume costs: one step through ``run_step`` from JSON vs one round of a live AG2 group chat.

For the same workflow (two agents in round robin, on the scripted model) and the same history length (10 and
200 messages), it times:

- ``run_step``: parse the stored state from JSON, rebuild the agents, replay the history, run the turn, select
  ahead, serialise the next state to JSON (what a step worker does, minus the store);
- a bare AG2 round, in a chat that already lives in memory with that history: select the speaker, generate
  its reply, append and broadcast it (one iteration of ``GroupChatManager.run_chat``).

Run: ``python bench/step.py`` (prints a table; medians of several runs). Warm process: AG2 is imported and
the workflow compiled before timing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.driver import drive
from runtime_core.engine.group import build_group
from runtime_core.engine.step import run_step
from runtime_core.engine.toolbox import ToolRun
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import DEFAULT_TIMEOUT
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState
from runtime_core.workflow import Workflow, load_workflow

HISTORIES = (10, 200)
REPEATS = 15
REPLY = "A reply of about the length agents give in a chat, a sentence or two, with some detail in it."


def bench_workflow(root: Path) -> Workflow:
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
                {"name": "A", "system_message": "You are A, a planner."},
                {"name": "B", "system_message": "You are B, a reviewer."},
            ]
        },
    }
    for name, data in files.items():
        (root / name).write_text(yaml.safe_dump(data))
    return load_workflow(root)


def state_with_history(workflow: Workflow, model: ScriptedModel, messages: int) -> SessionState:
    # Each step adds one message (the first adds two); stop when the history has the wanted length.
    run = drive(workflow, model, lambda request: None, max_steps=messages - 1)
    assert len(run.state.messages) == messages, len(run.state.messages)
    return run.state


def time_run_step(workflow: Workflow, model: ScriptedModel, stored: str) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        state = SessionState.model_validate_json(stored)
        result = run_step(state, workflow, model)
        result.state.model_dump_json()
        samples.append(time.perf_counter() - start)
        assert len(result.new_messages) == 1
    return statistics.median(samples)


def time_bare_round(workflow: Workflow, model: ScriptedModel, state: SessionState) -> float:
    from autogen.io.base import IOStream

    from runtime_core.engine.humanio import StepIO

    compiled = compile_workflow(workflow)
    meter = CallMeter(model.transport(), state.engine.get("model_calls", {}), timeout=DEFAULT_TIMEOUT)
    samples = []
    with IOStream.set_default(StepIO()):
        group = build_group(compiled, state, model, meter, state.messages[0].raw, ToolRun())
        for message in state.messages:
            group.commit(group.participant(message.speaker), message.raw)
        last = group.participant(state.messages[-1].speaker)
        for _ in range(REPEATS):
            start = time.perf_counter()
            speaker = group.select_next(last, started=True)
            reply = speaker.generate_reply(sender=group.manager)
            group.commit(speaker, reply)
            samples.append(time.perf_counter() - start)
            last = speaker
    meter.close()
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workflow = bench_workflow(Path(tmp))
        turns = max(HISTORIES) + 4 * REPEATS
        model = ScriptedModel(
            Script.model_validate({"replies": {"A": [REPLY] * turns, "B": [REPLY] * turns}})
        )
        compile_workflow(workflow)
        print(f"{'history':>8} {'run_step+JSON':>15} {'bare AG2 round':>15} {'ratio':>7}")
        for messages in HISTORIES:
            state = state_with_history(workflow, model, messages)
            stepped = time_run_step(workflow, model, state.model_dump_json())
            bare = time_bare_round(workflow, model, state)
            print(f"{messages:>8} {stepped * 1000:>12.1f} ms {bare * 1000:>12.1f} ms {stepped / bare:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

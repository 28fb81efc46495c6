"""Exact resume: a run carried step to step through JSON, or through fresh processes, is the same run.

The reference is also AG2 itself: a stepped run sends the model byte for byte the requests AG2's own
uninterrupted ``run_chat`` loop sends. Each test runs in every ``engine_mode`` (conftest): the engine as it
was, every step building its agents (cold), and built agents reused across steps (warm). Fresh processes
are cold by nature: compared with a warm in-process run, they prove warm == cold across processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_kit import agent, comparable, example, play, speakers, write_workflow

import runtime_core.engine.driver as driver_module
import runtime_core.engine.step as step_module
import runtime_core.engine.turn as turn_module
from runtime_core.engine import tuning
from runtime_core.engine.baseline import run_uninterrupted
from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.engine.warm import POOL
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, SessionStatus

EXAMPLE_NAMES = ["CustomerSupport", "ContentReview", "TripPlanner"]


def _run(name: str, carry: Carry, session_id: str = "local-session"):
    workflow, script_path = example(name)
    script = load_script(script_path)
    model = ScriptedModel(script)
    return drive(
        workflow,
        model,
        scripted_inputs(list(script.user_inputs)),
        carry=carry,
        script_path=script_path,
        session_id=session_id,
    )


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_json_round_trip_per_step_equals_uninterrupted(name: str) -> None:
    in_memory = _run(name, Carry.memory)
    through_json = _run(name, Carry.json)

    assert in_memory.state.status == SessionStatus.completed
    assert in_memory.steps >= 3
    assert comparable(through_json) == comparable(in_memory)


def test_fresh_process_per_step_equals_in_process() -> None:
    # TripPlanner covers a UI tool answered across steps, agent tools updating context and an after_reply
    # context handoff: every step runs in a new Python process that sees only the JSON state (a cold step).
    # The in-process run is warm: it reuses the agents another session's steps built and used before it.
    with tuning.tuned(tuning.ALL_ON):
        _run("TripPlanner", Carry.memory, session_id="another-session")
        builds = POOL.builds
        in_memory = _run("TripPlanner", Carry.memory)
        assert POOL.builds == builds and POOL.reuses >= in_memory.steps - 1
    fresh = _run("TripPlanner", Carry.process)

    # open; Planner's reply (UI call); the UI answer run; Booker's reply (book_trip call); book_trip run;
    # Booker's closing reply.
    assert fresh.steps == in_memory.steps == 6
    assert comparable(fresh) == comparable(in_memory)
    assert speakers(fresh) == [
        "user",
        "Planner",
        "_Group_Tool_Executor",
        "Booker",
        "_Group_Tool_Executor",
        "Booker",
    ]
    assert fresh.state.context_variables["booking_reference"] == "TRIP-LIS-20260605"


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", ["CustomerSupport", "ContentReview"])
def test_stepped_run_sends_the_requests_of_ag2_own_loop(name: str) -> None:
    stepped = _run(name, Carry.json)
    workflow, script_path = example(name)
    script = load_script(script_path)
    texts = [u.text for u in script.user_inputs]
    first = (
        texts.pop(0)
        if workflow.orchestrator.startup_mode == "user_first"
        else workflow.orchestrator.initial_message
    )
    reference_model = ScriptedModel(script)

    history = run_uninterrupted(workflow, reference_model, first, texts, max_rounds=len(stepped.messages))

    assert [r.body for r in stepped.model_requests] == [r.body for r in reference_model.requests]
    assert len(history) == len(stepped.messages)
    assert [m.get("name") for m in history[1:]] == speakers(stepped)[1:]


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize(("strategy", "human"), [("auto", False), ("round_robin", True)])
def test_stepped_strategies_send_the_requests_of_ag2_own_loop(
    tmp_path: Path, strategy: str, human: bool
) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B")],
        orchestration_strategy=strategy,
        startup_mode="agent_first",
        human_in_the_loop=human,
        max_turns=4,
    )
    script = {
        "replies": {"A": ["a1", "a2"], "B": ["b1", "b2"], "speaker_selection": ["B", "A", "B"]},
        "user_inputs": ["more please"],
    }
    stepped, model = play(workflow, script, carry=Carry.json)
    reference_model = ScriptedModel(Script.model_validate(script))

    run_uninterrupted(workflow, reference_model, "Begin.", ["more please"], max_rounds=len(stepped.messages))

    assert stepped.state.status == SessionStatus.completed
    assert [(r.agent, r.body) for r in model.requests] == [
        (r.agent, r.body) for r in reference_model.requests
    ]


class Crash(BaseException):
    """A process dying mid-step: nothing the step did is stored."""


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", ["CustomerSupport", "TripPlanner"])
def test_tool_steps_that_crash_and_are_retried_from_the_stored_state_give_the_same_run(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = _run(name, Carry.json)
    real_step, real_results = step_module.run_step, turn_module.tool_result_events
    crashes: list[str] = []

    def crash_after_the_tools(*args: Any, **kwargs: Any) -> None:
        raise Crash("died after the tools ran")

    def crashing_once(state: SessionState, *args: Any, **kwargs: Any) -> Any:
        stored = state.model_dump_json()
        if step_module.TOOLS_PENDING in state.engine:
            monkeypatch.setattr(turn_module, "tool_result_events", crash_after_the_tools)
            with pytest.raises(Crash):
                real_step(SessionState.model_validate_json(stored), *args, **kwargs)
            monkeypatch.setattr(turn_module, "tool_result_events", real_results)
            crashes.append(state.engine[step_module.TOOLS_PENDING]["caller"])
        return real_step(SessionState.model_validate_json(stored), *args, **kwargs)

    monkeypatch.setattr(driver_module, "run_step", crashing_once)
    crashed = _run(name, Carry.json)

    assert crashes, "no tool step ran"
    # Same transcript, context, events and, byte for byte, the same model requests: no reply asked twice.
    assert comparable(crashed) == comparable(clean)


def _context_run(root: Path, carry: Carry):
    import yaml
    from engine_kit import CONTEXT_SCRIPT, context_tools_workflow

    from runtime_core.session import new_session

    workflow = context_tools_workflow(root)
    script_path = root / "script.yaml"
    script_path.write_text(yaml.safe_dump(CONTEXT_SCRIPT))
    state = new_session(workflow, "ctx-session", app_id="acme", user_id="u-1")
    model = ScriptedModel(load_script(script_path))
    return drive(workflow, model, scripted_inputs([]), carry=carry, state=state, script_path=script_path)


@pytest.mark.usefixtures("engine_mode")
def test_tools_that_change_context_in_place_resume_exactly_through_json(tmp_path: Path) -> None:
    in_memory = _context_run(tmp_path / "a", Carry.memory)
    through_json = _context_run(tmp_path / "a", Carry.json)

    assert in_memory.state.status == SessionStatus.completed
    assert in_memory.state.context_variables["count"] == 2
    assert comparable(through_json) == comparable(in_memory)


def test_tools_that_change_context_in_place_resume_exactly_in_fresh_processes(tmp_path: Path) -> None:
    in_memory = _context_run(tmp_path / "a", Carry.memory)
    fresh = _context_run(tmp_path / "a", Carry.process)

    assert fresh.steps == in_memory.steps and fresh.steps >= 6
    assert comparable(fresh) == comparable(in_memory)
    assert fresh.state.context_variables["items"] == ["pen", "ink"]

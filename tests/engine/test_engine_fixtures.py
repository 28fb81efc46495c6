"""Frozen states: sessions saved by an earlier version of the engine must still resume with this one.

``tests/fixtures/state/v1/<Workflow>.json`` is the SessionState (schema v1) of each example after its first
steps, generated once (``python tests/engine/test_engine_fixtures.py``) and committed. Never regenerate them
to make a test pass: a failure here means stored sessions would break. Each resumes in every
``engine_mode`` (conftest): before the warm-container work, cold and warm.

``v1/tools_pending/`` holds states of a kind older engines never wrote: a reply recorded with its tool calls
still to run (``state.engine["tools_pending"]``). The generator only writes fixtures that do not exist yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from engine_kit import example

from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.engine.step import TOOLS_PENDING, StepResult, run_step
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, SessionStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state" / "v1"
TOOLS_PENDING_FIXTURES = FIXTURES / "tools_pending"
# How many steps each fixture ran: each stops on a running state, so the next step needs no input.
STEPS = {"CustomerSupport": 2, "ContentReview": 1, "TripPlanner": 3}
# Stopped right after a reply with tool calls (the steps of the engine that wrote them).
TOOLS_PENDING_STEPS = {"CustomerSupport": 2, "TripPlanner": 4}


def _resume(path: Path, name: str) -> tuple[SessionState, StepResult]:
    frozen = SessionState.model_validate_json(path.read_text())
    workflow, script_path = example(name)
    script = load_script(script_path)
    assert frozen.schema_version == 1 and frozen.status == SessionStatus.running

    result = run_step(frozen, workflow, ScriptedModel(script))

    reference = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)))
    expected = reference.messages[len(frozen.messages) : len(frozen.messages) + len(result.new_messages)]
    assert result.new_messages, "the step produced nothing"
    assert [(m.seq, m.speaker, m.content, m.raw) for m in result.new_messages] == [
        (m.seq, m.speaker, m.content, m.raw) for m in expected
    ]
    assert not any(e.type == "error" for e in result.events)
    assert result.events[0].seq == frozen.last_event_seq + 1
    return frozen, result


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", sorted(STEPS))
def test_frozen_state_resumes_with_the_current_engine(name: str) -> None:
    _resume(FIXTURES / f"{name}.json", name)


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", sorted(TOOLS_PENDING_STEPS))
def test_frozen_state_with_tools_pending_runs_them(name: str) -> None:
    frozen, result = _resume(TOOLS_PENDING_FIXTURES / f"{name}.json", name)

    assert TOOLS_PENDING in frozen.engine
    assert [m.role for m in result.new_messages] == ["tool"]
    assert result.events[0].type == "tool_result" and result.usage == []


def regenerate() -> None:
    for folder, plan in ((FIXTURES, STEPS), (TOOLS_PENDING_FIXTURES, TOOLS_PENDING_STEPS)):
        folder.mkdir(parents=True, exist_ok=True)
        for name, steps in plan.items():
            path = folder / f"{name}.json"
            if path.exists():
                continue  # frozen: what stored sessions look like must not move with the engine
            workflow, script_path = example(name)
            script = load_script(script_path)
            run = drive(
                workflow,
                ScriptedModel(script),
                scripted_inputs(list(script.user_inputs)),
                carry=Carry.json,
                max_steps=steps,
                session_id=f"fixture-{name}",
            )
            path.write_text(run.state.model_dump_json(indent=2) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    regenerate()

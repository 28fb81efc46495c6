"""State triggers (the original MozaiksAI runtime's ``source.triggers`` of ``state`` variables).

``agent_text``: an agent's reply that matches (``equals`` / ``contains`` case-insensitively, or ``regex``)
sets the variable to true, before the next speaker is chosen; ``ui_hidden`` keeps that reply from the user.
``ui_response``: a UI tool's answer sets the variable to the answer's ``response_key``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_kit import agent, comparable, events_of, play, run_on_script, speakers, write_workflow

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus

INTERVIEW: dict[str, Any] = {
    "user_inputs": ["I want to automate invoices."],
    "replies": {
        "Interviewer": ["What do you want to automate?", "Noted, thanks.\nNEXT"],
        "Planner": ["Here is the plan."],
    },
}


def _interview(root: Path, ui_hidden: bool = True):
    trigger = {
        "type": "agent_text",
        "agent": "Interviewer",
        "match": {"equals": "next"},
        "ui_hidden": ui_hidden,
    }
    return write_workflow(
        root,
        agents=[agent("Interviewer"), agent("Planner")],
        context=[
            {
                "name": "interview_complete",
                "type": "bool",
                "default": False,
                "source": "state",
                "triggers": [trigger],
            }
        ],
        handoffs=[
            {
                "from_agent": "Interviewer",
                "to_agent": "Planner",
                "expression": "${interview_complete} == True",
                "evaluate": "after_reply",
            },
            {"from_agent": "Interviewer", "to_agent": "user", "condition_type": "after_work"},
            {"from_agent": "Planner", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
    )


def test_an_agents_final_line_sets_a_state_variable_and_is_hidden(tmp_path: Path) -> None:
    run, _ = play(_interview(tmp_path), INTERVIEW)

    assert run.state.status == SessionStatus.completed
    assert run.state.context_variables["interview_complete"] is True
    assert speakers(run)[-1] == "Planner"
    shown = [e.content for e in events_of(run, "agent_message")]
    assert shown == ["What do you want to automate?", "Here is the plan."]
    # Hidden from the user, kept in the transcript: the model still sees what it said.
    assert "Noted, thanks.\nNEXT" in [m.content for m in run.messages]


def test_a_matching_reply_without_ui_hidden_is_shown(tmp_path: Path) -> None:
    run, _ = play(_interview(tmp_path, ui_hidden=False), INTERVIEW)

    assert run.state.context_variables["interview_complete"] is True
    assert "Noted, thanks.\nNEXT" in [e.content for e in events_of(run, "agent_message")]


def test_a_reply_that_does_not_match_leaves_the_variable(tmp_path: Path) -> None:
    script = {"user_inputs": ["hi"], "replies": {"Interviewer": ["What?", "Next week maybe."]}}
    run, _ = play(_interview(tmp_path), script)

    assert run.state.context_variables["interview_complete"] is False
    assert "Planner" not in speakers(run)


PLAN_TOOL = '''
def review_plan(title: str) -> dict:
    """Show the plan for review."""
    return {"title": title}
'''


def test_a_ui_tools_answer_sets_a_state_variable(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["review_plan"])],
        tools=[{"name": "review_plan", "file": "tools/kit.py", "function": "review_plan", "kind": "ui"}],
        tool_source=PLAN_TOOL,
        context=[
            {
                "name": "acceptance",
                "type": "str",
                "default": "pending",
                "source": "state",
                "triggers": [
                    {"type": "ui_response", "tool": "review_plan", "response_key": "plan_acceptance"}
                ],
            }
        ],
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {
        "user_inputs": [{"answer": {"plan_acceptance": "accepted"}}],
        "replies": {"A": [{"tool_calls": [{"name": "review_plan", "arguments": {"title": "Plan"}}]}, "Ok."]},
    }
    run, _ = play(workflow, script)

    assert run.state.context_variables["acceptance"] == "accepted"


@pytest.mark.usefixtures("engine_mode")
def test_state_triggers_resume_exactly_through_json(tmp_path: Path) -> None:
    in_memory, _ = play(_interview(tmp_path / "m"), INTERVIEW)
    through_json, _ = play(_interview(tmp_path / "j"), INTERVIEW, carry=Carry.json)

    assert comparable(through_json) == comparable(in_memory)


def test_state_triggers_resume_exactly_in_fresh_processes(tmp_path: Path) -> None:
    workflow = _interview(tmp_path / "p")
    script_path = workflow.root / "script.yaml"
    script_path.write_text(yaml.safe_dump(INTERVIEW))
    fresh = run_on_script(workflow, script_path, Carry.process)
    in_memory, _ = play(_interview(tmp_path / "m"), INTERVIEW)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)


def test_an_agent_whose_text_may_be_hidden_is_not_streamed(tmp_path: Path) -> None:
    from runtime_core.engine.step import streams

    hidden = _interview(tmp_path / "h").model_copy(deep=True)
    shown = _interview(tmp_path / "s", ui_hidden=False)
    on = {"streaming": True}

    hidden = hidden.model_copy(update={"orchestrator": hidden.orchestrator.model_copy(update=on)})
    shown = shown.model_copy(update={"orchestrator": shown.orchestrator.model_copy(update=on)})
    assert not streams(hidden, "Interviewer") and streams(hidden, "Planner")
    assert streams(shown, "Interviewer")

"""``auto_tool_mode`` with a UI tool, as in the original MozaiksAI runtime: the agent's validated structured
output invokes its UI_Tool, which asks the user mid-body (``use_ui_tool``); the step ends at the wait, the
answer comes back on the next step, where the tool runs again from the start (replay) and completes.

``tests/engine/original/PlanDesk``: the Drafter's output invokes review_plan; the decision it writes into the
context hands the turn to the Closer; the tool imports ``workflows._shared.formatting`` (the folder
``tests/engine/original/_shared``). One step per fresh process equals an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from engine_kit import comparable, events_of, run_on_script, speakers

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus
from runtime_core.workflow import load_workflow
from runtime_core.workflow.loader import check_workflow_report

PLANDESK = Path(__file__).parent / "original" / "PlanDesk"


def _run(carry: Carry, folder: Path = PLANDESK):
    workflow = load_workflow(folder)
    return run_on_script(workflow, folder / "script.yaml", carry, session_id="pd-1", tenant=("acme", "u-7"))


def _copy(tmp_path: Path) -> Path:
    """PlanDesk in a workflows folder of its own, with the _shared folder beside it."""
    shutil.copytree(PLANDESK.parent / "_shared", tmp_path / "_shared")
    return Path(shutil.copytree(PLANDESK, tmp_path / "PlanDesk"))


def test_the_structured_output_asks_the_ui_and_the_answer_is_the_tools_result() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    # Outside AG2's transcript, as in the original: the Drafter's reply, then the Closer.
    assert speakers(run) == ["user", "Drafter", "Closer"]
    (request,) = [e.request for e in events_of(run, "input_request")]
    assert (request.kind, request.agent, request.tool_name) == ("ui_tool", "Drafter", "review_plan")
    assert (request.component, request.display) == ("PlanReview", "artifact")
    # ``order`` comes from workflows/_shared (tests/engine/original/_shared), as the original laid it out.
    assert request.ui == {
        "title": "Beta rollout",
        "stages": ["staff", "beta", "all"],
        "order": "staff -> beta -> all",
        "message": "Please review.",
    }
    # The output's fields by parameter name (Stages -> stages), chat_id from the runtime.
    assert request.arguments == {
        "title": "Beta rollout",
        "stages": ["staff", "beta", "all"],
        "agent_message": "Please review.",
        "chat_id": "pd-1",
    }
    (call,) = events_of(run, "tool_call")
    assert (call.agent, call.call.name, call.call.id) == ("Drafter", "review_plan", request.tool_call_id)
    (result,) = events_of(run, "tool_result")
    assert result.tool_call_id == request.tool_call_id and not result.is_error
    assert json.loads(result.content) == {"status": "success", "decision": "approved", "stages": 3}
    context = run.state.context_variables
    # The code before the wait ran twice (ask, then replay); only the completed run's change was kept.
    assert (context["plan_status"], context["reviews_started"], context["review_choice"]) == (
        "approved",
        1,
        "approved",
    )
    # An external variable starts empty and is what the tool set (the original fetched them in tools).
    assert [e.variables["release_ticket"] for e in events_of(run, "context_updated")] == [None, "REL-3"]
    kinds = [e.type for e in run.events]
    assert kinds.index("tool_call") < kinds.index("input_request") < kinds.index("tool_result")


def test_a_rejected_plan_goes_back_to_the_user(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    script = folder / "script.yaml"
    script.write_text(script.read_text().replace("decision: approved", "decision: rejected"))

    run = _run(Carry.memory, folder)

    assert run.state.status == SessionStatus.awaiting_input
    assert run.state.pending_input is not None and run.state.pending_input.kind == "user_turn"
    assert run.state.context_variables["plan_status"] == "rejected"
    assert speakers(run) == ["user", "Drafter"]


def test_plandesk_validates_without_a_not_yet_run_warning() -> None:
    checked = check_workflow_report(PLANDESK)

    assert checked.errors == []
    assert checked.warnings == []  # neither auto_tool_mode with a UI tool nor source external is pending


@pytest.mark.parametrize("carry", [Carry.json, Carry.process])
def test_one_step_per_round_trip_equals_uninterrupted(carry: Carry) -> None:
    in_memory = _run(Carry.memory)
    resumed = _run(carry)

    assert in_memory.steps >= 2
    assert resumed.steps == in_memory.steps
    assert comparable(resumed) == comparable(in_memory)


def test_without_an_auto_invoke_tool_the_output_is_only_a_message(tmp_path: Path) -> None:
    # The original bound no tool (it logged so) and the agent had no tools: the output stays a message.
    folder = _copy(tmp_path)
    tools = folder / "tools.yaml"
    tools.write_text(
        tools.read_text().replace(
            "    tool_type: UI_Tool\n", "    tool_type: UI_Tool\n    auto_invoke: false\n"
        )
    )

    checked = check_workflow_report(folder)
    (notice,) = [w for w in checked.warnings if w.field == "agents.Drafter.auto_tool_mode"]
    assert (notice.file, notice.line) == ("agents.yaml", 8)
    assert "only a message" in notice.message
    run = _run(Carry.memory, folder)

    assert events_of(run, "tool_call") == [] and events_of(run, "tool_result") == []
    assert run.state.pending_input is not None and run.state.pending_input.kind == "user_turn"
    assert run.state.context_variables["plan_status"] is None
    assert "tools" not in json.loads(run.model_requests[0].body)


def test_a_tool_importing_a_missing_shared_module_is_refused_by_validate(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    shutil.rmtree(tmp_path / "_shared")

    checked = check_workflow_report(folder)

    (error,) = checked.errors
    assert (error.file, error.line) == ("tools/review.py", 8)
    assert "imports workflows._shared.formatting, but there is no _shared folder" in error.message


KIND_UI_SOURCE = '''from typing import Any


def confirm(title: str) -> dict:
    """What the client shows."""
    return {"title": title.upper()}


def confirm_result(answer: dict, context_variables: Any = None) -> str:
    context_variables["confirmed"] = answer.get("ok")
    return "confirmed" if answer.get("ok") else "declined"
'''


@pytest.mark.parametrize("carry", [Carry.memory, Carry.json])
def test_a_kind_ui_auto_tool_shows_its_payload_and_its_result_function_reads_the_answer(
    tmp_path: Path, carry: Carry
) -> None:
    from engine_kit import agent, play, write_workflow

    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", structured_output="Draft", auto_tool_mode=True), agent("B")],
        tools=[
            {"name": "confirm", "file": "tools/kit.py", "function": "confirm", "kind": "ui", "agents": ["A"]}
        ],
        tool_source=KIND_UI_SOURCE,
        outputs=[{"name": "Draft", "fields": [{"name": "title", "type": "str"}]}],
        context=[{"name": "confirmed", "type": "bool", "default": False}],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition_type": "after_work"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
    )
    script = {
        "user_inputs": [{"answer": {"ok": True}}],
        "replies": {"A": [{"output": {"title": "launch"}}], "B": ["done"]},
    }

    run, _ = play(workflow, script, carry)

    (request,) = [e.request for e in events_of(run, "input_request")]
    assert (request.tool_name, request.component, request.ui) == ("confirm", "confirm", {"title": "LAUNCH"})
    (result,) = events_of(run, "tool_result")
    assert (result.content, result.is_error) == ("confirmed", False)
    assert run.state.context_variables["confirmed"] is True
    assert run.state.status == SessionStatus.completed and speakers(run) == ["user", "A", "B"]


@pytest.mark.parametrize("carry", [Carry.memory, Carry.json])
def test_a_second_wait_in_the_auto_tool_ends_the_next_step_the_same_way(tmp_path: Path, carry: Carry) -> None:
    folder = _copy(tmp_path)
    review = folder / "tools" / "review.py"
    review.write_text(
        review.read_text().replace(
            '    context_variables["plan_status"] = response.get("decision")\n',
            '    again = await use_ui_tool("PlanConfirm", {"decision": response.get("decision")})\n'
            '    sure = again.get("sure")\n'
            '    context_variables["plan_status"] = response.get("decision") if sure else "held"\n',
        )
    )
    script = folder / "script.yaml"
    first = "  - answer: {decision: approved, note: ship it}\n"
    script.write_text(script.read_text().replace(first, first + "  - answer: {sure: true}\n"))

    run = _run(carry, folder)

    requests = [e.request for e in events_of(run, "input_request")]
    assert [(r.component, r.tool_call_id) for r in requests] == [
        ("PlanReview", "auto-1"),
        ("PlanConfirm", "auto-1"),
    ]
    assert requests[0].request_id != requests[1].request_id
    assert len(events_of(run, "tool_call")) == 1 and len(events_of(run, "tool_result")) == 1
    context = run.state.context_variables
    assert (context["plan_status"], context["reviews_started"]) == ("approved", 1)
    assert run.state.status == SessionStatus.completed and speakers(run) == ["user", "Drafter", "Closer"]

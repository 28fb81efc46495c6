"""A workflow in the original MozaiksAI dialect whose tools use the original runtime's tool-facing API.

``tests/engine/original/KeyDesk``: a ``UI_Tool`` that awaits ``use_ui_tool`` mid-body (module with
``from __future__ import annotations``, a workflow logger, a ``workflows.KeyDesk.tools`` import), writes the
context in place, and a handoff that tests what it wrote; a second agent's tool reports the context and the
runtime context; state triggers set variables from a UI answer and from an agent's hidden last line.
Offline on its script; one step per fresh process equals an uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_kit import comparable, events_of, run_on_script, speakers

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus
from runtime_core.workflow import load_workflow
from runtime_core.workflow.spec import Dialect

KEYDESK = Path(__file__).parent / "original" / "KeyDesk"


def _run(carry: Carry):
    workflow = load_workflow(KEYDESK)
    return run_on_script(workflow, KEYDESK / "script.yaml", carry, session_id="kd-1", tenant=("acme", "u-7"))


def test_keydesk_is_the_original_dialect_and_its_ui_tool_runs_in_the_executor() -> None:
    workflow = load_workflow(KEYDESK)

    assert workflow.dialect == Dialect.original and workflow.name == "KeyDesk"
    tool = next(t for t in workflow.tools if t.name == "request_key")
    assert tool.kind == "agent" and tool.ui is not None and tool.ui.component == "AgentAPIKeyInput"


def test_keydesk_runs_as_its_authors_wrote_it() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    assert speakers(run) == [
        "user",
        "Setup",
        "_Group_Tool_Executor",
        "Setup",
        "Reporter",
        "_Group_Tool_Executor",
        "Reporter",
    ]
    [request] = [e.request for e in events_of(run, "input_request")]
    assert (request.tool_name, request.component, request.display) == (
        "request_key",
        "AgentAPIKeyInput",
        "artifact",
    )
    assert request.ui == {"service": "open_ai", "label": "Open Ai API Key"}
    results = {e.name: e.content for e in events_of(run, "tool_result")}
    assert json.loads(results["request_key"]) == {
        "status": "success",
        "service": "open_ai",
        "key_length": 11,
        "app_id": "acme",
    }
    assert json.loads(results["report"]) == {
        "key_status": "success",
        "key_service": "open_ai",
        "app_id": "acme",
        "user_id": "u-7",
        "chat_id": "kd-1",
        "workflow_name": "KeyDesk",
    }
    assert run.state.context_variables == {
        "key_status": "success",
        "key_service": "open_ai",
        "key_answer": "success",  # a ui_response state trigger
        "reported": True,  # an agent_text state trigger on the Reporter's last line, hidden from the user
    }
    assert [e.agent for e in events_of(run, "agent_message")] == ["Setup"]


@pytest.mark.usefixtures("engine_mode")
def test_keydesk_resumes_exactly_through_json() -> None:
    assert comparable(_run(Carry.json)) == comparable(_run(Carry.memory))


def test_keydesk_resumes_exactly_in_fresh_processes() -> None:
    in_memory = _run(Carry.memory)
    fresh = _run(Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)

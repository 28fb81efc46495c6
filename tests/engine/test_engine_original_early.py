"""A workflow in the early original MozaiksAI dialect, through the engine.

``tests/engine/original/StackPlan``: tools.yaml with ``backend_tools`` / ``ui_tools`` keyed by agent and
``ALL_AGENTS``, ``path: workflows.StackPlan.tools.<module>.<function>``; a UI tool that emits then waits
(``emit_ui_tool_event`` / ``wait_for_ui_tool_response``, display inline) and one that leaves its display to
tools.yaml (``display: artifact``); agents with ``llm_config_type`` / ``human_input_mode``, nested handoffs
and variables, ``recipient``; a lifecycle tool of that dialect that must never run. Offline on its script;
one step per fresh process equals an uninterrupted run.
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

STACKPLAN = Path(__file__).parent / "original" / "StackPlan"


def _run(carry: Carry):
    workflow = load_workflow(STACKPLAN)
    return run_on_script(
        workflow, STACKPLAN / "script.yaml", carry, session_id="sp-1", tenant=("acme", "u-7")
    )


def test_stackplan_loads_as_the_early_dialect() -> None:
    workflow = load_workflow(STACKPLAN)

    assert workflow.dialect == Dialect.original and workflow.name == "StackPlan"
    assert workflow.orchestrator.initial_agent == "Scout"  # recipient
    tools = {t.name: t for t in workflow.tools}
    assert sorted(tools["note"].agents) == ["Keeper", "Packager", "Scout"]  # ALL_AGENTS
    assert (tools["note"].file, tools["note"].function) == ("tools/notes.py", "note")
    assert tools["keep_reference"].agents == ["Keeper"]
    assert (tools["ask_token"].ui.component, tools["ask_token"].ui.mode) == ("token_form", "inline")
    assert (tools["offer_kit"].ui.component, tools["offer_kit"].ui.mode) == ("kit_panel", "artifact")
    assert workflow.lifecycle_tools == []
    assert [a.max_consecutive_auto_reply for a in workflow.agents] == [4, 4, 4]
    assert [a.human_input_mode for a in workflow.agents] == ["NEVER", "NEVER", "ALWAYS"]


def test_stackplan_runs_as_its_authors_wrote_it() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    executor = "_Group_Tool_Executor"
    assert speakers(run) == [
        "user",
        *("Scout", executor, "Scout"),
        *("Keeper", executor, "Keeper", executor, "Keeper"),
        *("Packager", executor, "Packager"),
    ]
    requests = [e.request for e in events_of(run, "input_request")]
    assert [(r.kind, r.agent, r.tool_name, r.component, r.display) for r in requests] == [
        ("ui_tool", "Keeper", "ask_token", "token_form", "inline"),
        # human_input_mode ALWAYS: asked before each of Packager's replies; the empty answer let it reply.
        ("user_turn", "Packager", None, None, None),
        ("ui_tool", "Packager", "offer_kit", "kit_panel", "artifact"),
        ("user_turn", "Packager", None, None, None),
    ]
    assert requests[0].ui == {"service": "ledger-api", "label": "ledger-api deploy token"}
    assert requests[1].prompt.startswith("Replying as Packager")
    # The second answer is Packager's reply, as AG2 makes a human's input the ALWAYS agent's reply.
    assert run.messages[-1].speaker == "Packager" and run.messages[-1].content == "Thanks, that is all."
    results = {e.name: e.content for e in events_of(run, "tool_result")}
    assert json.loads(results["ask_token"]) == {
        "status": "success",
        "service": "ledger-api",
        "token_length": 9,
    }
    assert json.loads(results["offer_kit"]) == {"status": "success", "downloaded": ["deploy.yaml"]}
    assert run.state.context_variables == {
        "service_name": "ledger-api",
        "notes": ["needs a deploy token", "token kept in vault/ledger", "token collected"],
        "token_status": "success",
        "token_ref": "vault/ledger",
        "downloaded": ["deploy.yaml"],
    }


@pytest.mark.usefixtures("engine_mode")
def test_stackplan_resumes_exactly_through_json() -> None:
    assert comparable(_run(Carry.json)) == comparable(_run(Carry.memory))


def test_stackplan_resumes_exactly_in_fresh_processes() -> None:
    in_memory = _run(Carry.memory)
    fresh = _run(Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)

"""Tools and the context: changes made in place persist; the runtime's own keys are there and read-only.

Published MozaiksAI tools change ``context_variables`` in place (``.set``, item assignment,
``.data[...]``) and return plain values; the original runtime kept those changes. AG2 0.14 hands a tool a
copy, so the engine hands it the group's own context instead. ``app_id``, ``user_id``, ``session_id`` (and
the original's ``chat_id``) and ``workflow_name`` come from the verified session, are never persisted, and a
tool cannot change them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from engine_kit import CONTEXT_SCRIPT, context_tools_workflow, events_of, speakers

from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, new_session
from runtime_core.workflow import Workflow

RUNTIME_KEYS = {"app_id", "user_id", "session_id", "chat_id", "workflow_name"}
TENANT = {"app_id": "acme", "user_id": "u-1", "session_id": "s-1", "chat_id": "s-1", "workflow_name": "T"}


def _drive(workflow: Workflow, script: dict, state: SessionState | None = None, carry: Carry = Carry.memory):
    parsed = Script.model_validate(script)
    state = state or new_session(workflow, "s-1", app_id="acme", user_id="u-1")
    return drive(workflow, ScriptedModel(parsed), scripted_inputs([]), state=state, carry=carry)


def _reported(run) -> dict:
    [result] = [e for e in events_of(run, "tool_result") if e.name == "report"]
    return json.loads(result.content)


def test_changes_a_tool_makes_in_place_are_kept_and_seen_by_later_turns(tmp_path: Path) -> None:
    workflow = context_tools_workflow(tmp_path)

    run = _drive(workflow, CONTEXT_SCRIPT)

    context = run.state.context_variables
    assert (context["stage"], context["count"], context["items"]) == ("noted", 2, ["pen", "ink"])
    # The after_reply handoff to B tested the count the tools wrote; B's tool saw it all.
    assert "B" in speakers(run)
    seen = _reported(run)
    assert (seen["stage"], seen["count"], seen["items"]) == ("noted", 2, ["pen", "ink"])


def test_every_tool_sees_the_runtime_context_and_it_is_never_persisted(tmp_path: Path) -> None:
    workflow = context_tools_workflow(tmp_path)

    run = _drive(workflow, CONTEXT_SCRIPT)

    assert {k: v for k, v in _reported(run).items() if k in RUNTIME_KEYS} == TENANT
    assert not RUNTIME_KEYS & set(run.state.context_variables)


def test_a_tool_cannot_change_the_runtime_context(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    workflow = context_tools_workflow(tmp_path)
    script = {
        "replies": {
            "A": [
                {
                    "tool_calls": [
                        {"name": "grab", "arguments": {}},
                        {"name": "note", "arguments": {"item": "x"}},
                    ]
                },
                {"tool_calls": [{"name": "note", "arguments": {"item": "y"}}]},
                "Done.",
            ],
            "B": [{"tool_calls": [{"name": "report", "arguments": {}}]}, "Reported."],
        }
    }

    with caplog.at_level(logging.WARNING, logger="runtime_core.tools"):
        run = _drive(workflow, script)

    assert {k: v for k, v in _reported(run).items() if k in RUNTIME_KEYS} == TENANT
    assert not RUNTIME_KEYS & set(run.state.context_variables)
    warnings = [r.getMessage() for r in caplog.records if r.name == "runtime_core.tools"]
    assert len(warnings) == 1
    assert "tool grab" in warnings[0] and all(k in warnings[0] for k in ("app_id", "user_id", "chat_id"))


def test_runtime_values_in_a_stored_state_are_ignored(tmp_path: Path) -> None:
    # Whatever reached the stored context (an old state, a forged one), the session's tenant wins.
    workflow = context_tools_workflow(tmp_path)
    state = new_session(workflow, "s-1", app_id="acme", user_id="u-1")
    state.context_variables = {"app_id": "forged", "user_id": "forged", "chat_id": "forged"}

    run = _drive(workflow, CONTEXT_SCRIPT, state=state)

    assert {k: v for k, v in _reported(run).items() if k in RUNTIME_KEYS} == TENANT
    assert not RUNTIME_KEYS & set(run.state.context_variables)

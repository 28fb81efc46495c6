"""context_updated: the client hears of the context variables when the run starts and when tools change
them, never of those read from the environment."""

from __future__ import annotations

import pytest
from engine_kit import example

from runtime_core.engine.driver import drive, scripted_inputs
from runtime_core.events import ContextUpdated
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel


def test_context_changes_are_reported_after_the_start_and_after_the_tools_that_made_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPPORT_TIER", "gold-secret")  # support_tier: source env
    workflow, path = example("CustomerSupport")
    script = load_script(path)
    run = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)))
    assert run.state.context_variables["support_tier"] == "gold-secret"  # the engine has it
    updates = [(i, e) for i, e in enumerate(run.events) if isinstance(e, ContextUpdated)]
    assert [e.variables for _, e in updates] == [{"orders_checked": 0}, {"orders_checked": 1}]
    assert [e.changed for _, e in updates] == [["orders_checked"], ["orders_checked"]]
    assert "gold-secret" not in "".join(e.model_dump_json() for e in run.events)
    first, second = updates[0][0], updates[1][0]
    assert run.events[first - 1].type == "run_started"
    assert run.events[second - 1].type == "tool_result"  # right after the result of the tool that changed it


def test_a_workflow_without_context_variables_reports_none() -> None:
    workflow, path = example("ContentReview")
    script = load_script(path)
    run = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)))
    assert not [e for e in run.events if isinstance(e, ContextUpdated)]

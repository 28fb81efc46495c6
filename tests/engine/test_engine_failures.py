"""Failures leave the session resumable: script runs out, model errors, bad input; and cancellation."""

from __future__ import annotations

from pathlib import Path

import httpx
from engine_kit import agent, write_workflow

from runtime_core.engine.step import cancel_step, run_step
from runtime_core.llm.provider import ModelProvider
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, UserInput, new_session
from runtime_core.workflow import Workflow


class FailingModel(ModelProvider):
    """An endpoint that answers every call with a server error (after the client's retries)."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def transport(self) -> httpx.BaseTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return httpx.Response(503, json={"error": {"message": "overloaded", "type": "server_error"}})

        return httpx.MockTransport(handle)

    def api_key(self, key_env: str | None) -> str:
        return "sk-" + "x" * 48


def _two_agents(root: Path) -> Workflow:
    return write_workflow(
        root,
        agents=[agent("A"), agent("B")],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition_type": "after_work"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
    )


def test_script_that_runs_out_names_agent_and_call_and_does_not_advance(tmp_path: Path) -> None:
    workflow = _two_agents(tmp_path)
    short = ScriptedModel(Script.model_validate({"replies": {"A": ["a"]}}))
    first = run_step(new_session(workflow, "s"), workflow, short)
    assert first.enqueue_next and first.state.next_speaker == "B"

    failed = run_step(first.state, workflow, short)

    [error] = failed.events
    assert error.type == "error" and error.code == "script_exhausted" and error.recoverable
    assert "'B'" in error.message and "call #1" in error.message
    assert failed.state.messages == first.state.messages
    assert failed.state.next_speaker == "B" and failed.state.turn == first.state.turn
    assert failed.state.engine == first.state.engine
    assert failed.state.last_event_seq == first.state.last_event_seq + 1
    assert not failed.enqueue_next

    # Resumable: with a reply for B, the same state goes on.
    fixed = ScriptedModel(Script.model_validate({"replies": {"A": ["a"], "B": ["b"]}}))
    done = run_step(failed.state, workflow, fixed)
    assert done.state.status == SessionStatus.completed
    assert [m.content for m in done.new_messages] == ["b"]
    assert done.events[0].seq == failed.state.last_event_seq + 1


def test_model_error_is_reported_and_the_turn_can_be_retried(tmp_path: Path) -> None:
    workflow = _two_agents(tmp_path)
    model = FailingModel()
    state = new_session(workflow, "s")

    failed = run_step(state, workflow, model)

    assert model.calls == 1  # max_retries belongs to the provider; this one retries nothing
    assert [(e.type, e.code, e.recoverable) for e in failed.events] == [("error", "model_error", True)]
    assert "503" in failed.events[0].message or "overloaded" in failed.events[0].message
    assert failed.state.messages == [] and failed.state.status == SessionStatus.running
    assert failed.state.error is not None
    retried = run_step(
        failed.state, workflow, ScriptedModel(Script.model_validate({"replies": {"A": ["a"]}}))
    )
    assert [e.type for e in retried.events][:2] == ["run_started", "user_message"]
    assert retried.state.error is None


def test_input_is_checked_against_what_the_session_waits_for(tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path, agents=[agent("A")], startup_mode="user_first")
    model = ScriptedModel(Script())
    waiting = run_step(new_session(workflow, "s"), workflow, model)
    assert [e.type for e in waiting.events] == ["run_started", "input_request"]

    no_input = run_step(waiting.state, workflow, model)
    blank = run_step(waiting.state, workflow, model, UserInput(input_id="1", kind="message", text="  "))
    for refused in (no_input, blank):
        assert [(e.code, e.recoverable) for e in refused.events] == [("invalid_input", True)]
        assert refused.state.pending_input == waiting.state.pending_input


def test_cancel_ends_the_session_and_later_steps_are_refused(tmp_path: Path) -> None:
    workflow = _two_agents(tmp_path)
    model = ScriptedModel(Script.model_validate({"replies": {"A": ["a"]}}))
    first = run_step(new_session(workflow, "s"), workflow, model)

    cancelled = cancel_step(first.state)

    assert [(e.type, e.status) for e in cancelled.events] == [("run_completed", "cancelled")]
    assert cancelled.events[0].seq == first.state.last_event_seq + 1
    assert cancelled.state.status == SessionStatus.cancelled and not cancelled.enqueue_next
    after = run_step(cancelled.state, workflow, model)
    assert [(e.code, e.recoverable) for e in after.events] == [("session_closed", False)]


def test_script_handoff_the_agent_cannot_make_is_a_script_error(tmp_path: Path) -> None:
    workflow = _two_agents(tmp_path)
    model = ScriptedModel(Script.model_validate({"replies": {"A": [{"handoff": "B"}]}}))

    failed = run_step(new_session(workflow, "s"), workflow, model)

    [error] = failed.events
    assert error.code == "script_error" and "no such llm handoff" in error.message

"""Failures leave the session resumable: script runs out, model errors, bad input; and cancellation."""

from __future__ import annotations

from pathlib import Path

from engine_kit import FailingModel, agent, write_workflow

from runtime_core.engine.step import cancel_step, run_step
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, UserInput, new_session
from runtime_core.workflow import Workflow


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
    assert failed.error_code == "script_exhausted" and failed.state.error == error.message
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
    # The first step started the run before it failed: run_started is still the session's first event.
    assert [(e.seq, e.type) for e in failed.events] == [(1, "run_started"), (2, "error")]
    error = failed.events[1]
    assert (error.code, error.recoverable) == ("model_error", True)
    assert "503" in error.message or "overloaded" in error.message
    assert failed.error_code == "model_error" and failed.state.error == error.message
    assert failed.state.messages == [] and failed.state.status == SessionStatus.running
    retried = run_step(
        failed.state, workflow, ScriptedModel(Script.model_validate({"replies": {"A": ["a"]}}))
    )
    # The retry does not start the run again; it goes on numbering after the failure.
    assert [e.type for e in retried.events][:1] == ["user_message"]
    assert retried.events[0].seq == 3
    assert retried.state.error is None and retried.error_code is None


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

    [started, error] = failed.events
    assert started.type == "run_started"
    assert error.code == "script_error" and "no such llm handoff" in error.message

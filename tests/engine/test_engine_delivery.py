"""What the caller learns from a step, whatever happens in it: usage as it happens, run_started first, and
a failure it can compare with the previous one."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_kit import FailingModel, agent, write_workflow

from runtime_core.engine.step import run_step
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, UsageRecord, UserInput, new_session
from runtime_core.workflow import Workflow


class LedgerDown(Exception):
    pass


def _auto(root: Path) -> Workflow:
    # Each agent turn is a reply call followed by a speaker-selection call, in the same step.
    return write_workflow(
        root,
        agents=[agent("A"), agent("B")],
        orchestration_strategy="auto",
        startup_mode="agent_first",
        human_in_the_loop=False,
        max_turns=3,
    )


def test_each_model_call_reaches_on_model_call_when_its_response_arrives(tmp_path: Path) -> None:
    workflow = _auto(tmp_path)
    model = ScriptedModel(Script.model_validate({"replies": {"A": ["a1"], "speaker_selection": ["B"]}}))
    seen: list[tuple[UsageRecord, int]] = []

    result = run_step(
        new_session(workflow, "s"),
        workflow,
        model,
        on_model_call=lambda record: seen.append((record, len(model.requests))),
    )

    # The reply's record arrived before the selection call was even made.
    assert [(r.purpose, requests_so_far) for r, requests_so_far in seen] == [
        ("reply", 1),
        ("speaker_selection", 2),
    ]
    assert [r for r, _ in seen] == result.usage
    assert [(r.agent, r.turn, r.prompt_tokens) for r in result.usage] == [
        ("A", 1, model.requests[0].prompt_tokens),
        ("speaker_selection", 1, model.requests[1].prompt_tokens),
    ]


def test_a_step_that_fails_after_a_model_call_still_reports_the_call(tmp_path: Path) -> None:
    workflow = _auto(tmp_path)
    model = ScriptedModel(Script.model_validate({"replies": {"A": ["a1"]}}))  # no selection reply
    seen: list[UsageRecord] = []

    failed = run_step(new_session(workflow, "s"), workflow, model, on_model_call=seen.append)

    assert failed.error_code == "script_exhausted"
    assert [e.type for e in failed.events] == ["run_started", "usage", "error"]
    assert [r.agent for r in seen] == ["A"] and failed.usage == seen
    assert failed.state.usage.calls == 1 and failed.state.messages == []


def test_an_exception_from_on_model_call_ends_the_step_and_reaches_the_caller(tmp_path: Path) -> None:
    workflow = _auto(tmp_path)
    model = ScriptedModel(Script.model_validate({"replies": {"A": ["a1"], "speaker_selection": ["B"]}}))

    def ledger(record: UsageRecord) -> None:
        raise LedgerDown("billing ledger unavailable")

    with pytest.raises(LedgerDown):
        run_step(new_session(workflow, "s"), workflow, model, on_model_call=ledger)
    assert len(model.requests) == 1  # nothing ran after the call the ledger could not record


def test_a_refused_first_input_still_starts_the_run_once(tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path, agents=[agent("A")], startup_mode="user_first")
    model = ScriptedModel(Script.model_validate({"replies": {"A": ["hi"]}}))
    blank = UserInput(input_id="m0", kind="message", text="   ")

    refused = run_step(new_session(workflow, "s"), workflow, model, blank)

    assert [(e.seq, e.type) for e in refused.events] == [(1, "run_started"), (2, "error")]
    assert refused.error_code == "invalid_input" and refused.state.error is None
    assert refused.state.engine["initialized"] is True
    good = UserInput(input_id="m1", kind="message", text="hello")
    accepted = run_step(refused.state, workflow, model, good)
    assert accepted.events[0].type == "user_message" and accepted.events[0].seq == 3
    assert "run_started" not in [e.type for e in accepted.events] and accepted.error_code is None


def test_a_repeated_failure_is_recognisable_and_a_new_one_is_not(tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path, agents=[agent("A"), agent("B")], startup_mode="agent_first")
    state = new_session(workflow, "s")

    first = run_step(state, workflow, FailingModel())
    again = run_step(first.state, workflow, FailingModel())
    other = run_step(again.state, workflow, ScriptedModel(Script()))

    assert (first.error_code, again.error_code, other.error_code) == (
        "model_error",
        "model_error",
        "script_exhausted",
    )
    assert again.state.error == first.state.error != other.state.error
    assert [e.type for e in again.events] == ["error"]  # run_started is not repeated
    assert other.state.status == SessionStatus.running and other.state.messages == []


def test_a_user_first_session_whose_first_step_failed_never_opens_without_the_message(
    tmp_path: Path,
) -> None:
    workflow = write_workflow(tmp_path, agents=[agent("A")], startup_mode="user_first")
    first = UserInput(input_id="m1", kind="message", text="hello")
    failed = run_step(new_session(workflow, "s"), workflow, FailingModel(), first)
    assert [e.type for e in failed.events] == ["run_started", "error"]

    # A step without the message (the caller lost track of it) asks for it again rather than open the chat
    # with nothing.
    asked = run_step(failed.state, workflow, ScriptedModel(Script()))
    assert [e.type for e in asked.events] == ["input_request"]
    assert asked.state.status == SessionStatus.awaiting_input and asked.state.messages == []

    model = ScriptedModel(Script.model_validate({"replies": {"A": ["hi"]}}))
    retried = run_step(failed.state, workflow, model, first)
    assert [e.type for e in retried.events][:1] == ["user_message"]
    assert retried.state.messages[0].content == "hello"

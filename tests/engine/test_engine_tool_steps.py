"""A reply with tool calls is recorded in its own step; the next step runs the tools (with a stable key).

So a failure while tools run retries the tools, never the model call that asked for them; and a tool that
runs again sees the same ``current_tool_call().idempotency_key``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_kit import agent, events_of, example, play, write_workflow

import runtime_core.engine.turn as turn_module
from runtime_core.engine.step import TOOLS_PENDING, StepResult, run_step
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, SessionStatus, UserInput, new_session
from runtime_core.tools import current_tool_call
from runtime_core.workflow import Workflow

EXECUTOR = "_Group_Tool_Executor"

BOOKING_TOOL = '''
from pathlib import Path

from runtime_core.tools import current_tool_call

LOG = Path(__file__).parent / "calls.jsonl"  # in {root}: loaded modules are cached by workflow content


def book(destination: str) -> str:
    """Book a trip (a side effect that must happen once)."""
    call = current_tool_call()
    with LOG.open("a") as log:
        log.write(call.model_dump_json() + "\\n")
    return f"booked {destination}"
'''

UI_TOOL = '''
from runtime_core.tools import current_tool_call


def confirm(amount: int) -> dict:
    """Ask the user to confirm a payment."""
    return {"component": "confirm", "key": current_tool_call().idempotency_key}


def confirm_result(answer: dict) -> str:
    return f"confirmed with key {current_tool_call().idempotency_key}"
'''


ASYNC_TOOL = '''
import asyncio

from runtime_core.tools import current_tool_call


async def lookup(order_id: str) -> str:
    """Look an order up."""
    await asyncio.sleep(0)  # AG2 awaits it on another thread: the call must still be known there
    return f"{order_id}: {current_tool_call().idempotency_key}"
'''


class Crash(BaseException):
    """The process dying mid-step: the exception escapes run_step and nothing of the step is saved."""


def _booking(root: Path) -> Workflow:
    return write_workflow(
        root,
        agents=[agent("A", tools=["book"])],
        tools=[{"name": "book", "file": "tools/kit.py", "function": "book"}],
        tool_source=BOOKING_TOOL.replace("{root}", str(root)),
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )


BOOK_TWICE = {
    "replies": {
        "A": [
            {
                "content": "Booking both.",
                "tool_calls": [
                    {"name": "book", "arguments": {"destination": "Lisbon"}},
                    {"name": "book", "arguments": {"destination": "Porto"}},
                ],
            },
            "Both booked.",
        ]
    }
}


def _through_json(result: StepResult) -> SessionState:
    return SessionState.model_validate_json(result.state.model_dump_json())


def _logged(root: Path) -> list[dict[str, Any]]:
    path = root / "tools" / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_reply_with_tool_calls_ends_its_step_and_the_next_step_runs_the_tools(tmp_path: Path) -> None:
    workflow = _booking(tmp_path)
    model = ScriptedModel(Script.model_validate(BOOK_TWICE))

    replied = run_step(new_session(workflow, "s"), workflow, model)

    assert [e.type for e in replied.events] == [
        "run_started",
        "user_message",
        "speaker_selected",
        "agent_message",
        "tool_call",
        "tool_call",
        "usage",
    ]
    assert [m.speaker for m in replied.new_messages] == ["user", "A"]
    assert replied.enqueue_next and replied.state.status == SessionStatus.running
    assert replied.state.engine[TOOLS_PENDING] == {"caller": "A", "handoff_reported": False}
    assert replied.state.next_speaker == EXECUTOR
    assert _logged(tmp_path) == []  # nothing ran yet

    ran = run_step(_through_json(replied), workflow, model)

    assert [e.type for e in ran.events] == ["tool_result", "tool_result", "speaker_selected"]
    assert [m.speaker for m in ran.new_messages] == [EXECUTOR]
    assert len(model.requests) == 1 and ran.usage == []
    assert TOOLS_PENDING not in ran.state.engine and ran.state.next_speaker == "A"
    assert ran.enqueue_next and ran.events[0].seq == replied.state.last_event_seq + 1
    assert [c["tool_name"] for c in _logged(tmp_path)] == ["book", "book"]


def test_a_crash_while_tools_run_retries_the_tools_with_the_same_keys_not_the_model_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _booking(tmp_path)
    model = ScriptedModel(Script.model_validate(BOOK_TWICE))
    replied = run_step(new_session(workflow, "s-42"), workflow, model)
    stored = replied.state.model_dump_json()
    reply = replied.new_messages[-1]

    # The engine dies after both bookings went through, before the step returns a result.
    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash("killed")

    monkeypatch.setattr(turn_module, "tool_result_events", crash)
    with pytest.raises(Crash):
        run_step(SessionState.model_validate_json(stored), workflow, model)
    monkeypatch.undo()
    first_run = _logged(tmp_path)

    retried = run_step(SessionState.model_validate_json(stored), workflow, model)

    second_run = _logged(tmp_path)[len(first_run) :]
    assert [c["idempotency_key"] for c in first_run] == [c["idempotency_key"] for c in second_run]
    assert [c["idempotency_key"] for c in first_run] == [
        f"s-42:{reply.seq}:{call.id}" for call in reply.tool_calls
    ]
    assert first_run[0] == {
        "session_id": "s-42",
        "tool_name": "book",
        "tool_call_id": reply.tool_calls[0].id,
        "agent": "A",
        "message_seq": reply.seq,
        "idempotency_key": f"s-42:{reply.seq}:{reply.tool_calls[0].id}",
    }
    # The reply was asked for once: neither the crash nor the retry called the model again.
    assert [(r.agent, r.call) for r in model.requests] == [("A", 0)]
    assert [e.type for e in retried.events][:2] == ["tool_result", "tool_result"]


def test_the_key_differs_from_call_to_call_and_from_session_to_session(tmp_path: Path) -> None:
    workflow = _booking(tmp_path)
    script = {"replies": {"A": [{"tool_calls": [{"name": "book", "arguments": {"destination": "X"}}]}] * 2}}
    script["replies"]["A"].append("done")
    for session in ("s-1", "s-2"):
        state = new_session(workflow, session)
        model = ScriptedModel(Script.model_validate(script))
        for _ in range(4):  # two replies with one call each, each followed by its tool step
            state = _through_json(run_step(state, workflow, model))

    keys = [c["idempotency_key"] for c in _logged(tmp_path)]
    assert len(keys) == 4 and len(set(keys)) == 4
    assert current_tool_call() is None  # outside a tool function


def test_a_ui_answer_runs_the_ui_tool_in_a_step_that_calls_no_model() -> None:
    workflow, script_path = example("TripPlanner")
    model = ScriptedModel(load_script(script_path))
    state = run_step(new_session(workflow, "trip"), workflow, model).state
    message = UserInput(input_id="m1", kind="message", text="Lisbon please")
    asked = run_step(state, workflow, model, message)
    request = asked.state.pending_input
    assert request is not None
    calls_before = len(model.requests)

    answer = UserInput(
        input_id="a1", kind="answer", request_id=request.request_id, data={"start": "2026-06-05", "end": "x"}
    )
    answered = run_step(asked.state, workflow, model, answer)

    assert [e.type for e in answered.events] == [
        "user_message",
        "tool_result",
        "context_updated",  # the dates the tool set
        "handoff",
        "speaker_selected",
    ]
    assert [m.speaker for m in answered.new_messages] == [EXECUTOR]
    assert len(model.requests) == calls_before and answered.enqueue_next
    assert answered.state.next_speaker == "Booker"


def test_a_ui_tool_sees_the_same_key_when_it_asks_and_when_it_gets_the_answer(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["confirm"])],
        tools=[{"name": "confirm", "file": "tools/kit.py", "function": "confirm", "kind": "ui"}],
        tool_source=UI_TOOL,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {
        "replies": {"A": [{"tool_calls": [{"name": "confirm", "arguments": {"amount": 5}}]}, "ok"]},
        "user_inputs": [{"answer": {"ok": True}}],
    }
    run, _ = play(workflow, script)

    [request] = [e.request for e in events_of(run, "input_request")]
    [result] = events_of(run, "tool_result")
    assert request.ui["key"] == f"local-session:1:{request.tool_call_id}"
    assert result.content == f"confirmed with key {request.ui['key']}"


def test_a_call_to_a_tool_that_does_not_exist_is_reported_like_a_failing_tool(tmp_path: Path) -> None:
    workflow = _booking(tmp_path)
    script = {
        "replies": {
            "A": [
                {
                    "tool_calls": [
                        {"name": "refund", "arguments": {"order": "A1"}},
                        {"name": "transfer_to_Nobody_1", "arguments": {}},
                        {"name": "book", "arguments": "{not json"},
                    ]
                },
                "Sorry.",
            ]
        }
    }
    run, _ = play(workflow, script)

    calls = events_of(run, "tool_call")
    assert [(c.call.name, c.ui) for c in calls] == [
        ("refund", False),
        ("transfer_to_Nobody_1", False),
        ("book", False),
    ]
    results = events_of(run, "tool_result")
    assert [(r.name, r.is_error) for r in results] == [
        ("refund", True),
        ("transfer_to_Nobody_1", True),
        ("book", True),
    ]
    assert results[0].content == "Error: Function refund not found."
    errors = events_of(run, "error")
    assert [e.code for e in errors] == ["tool_error"] * 3
    assert "no tool named 'refund'" in errors[0].message
    assert "JSON" in errors[2].message
    assert not any(h.reason.startswith("llm:") for h in events_of(run, "handoff"))
    assert _logged(tmp_path) == []  # the malformed call never reached the function
    assert run.messages[-1].content == "Sorry." and run.state.status == SessionStatus.completed


def test_an_async_tool_sees_its_call_too(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["lookup"])],
        tools=[{"name": "lookup", "file": "tools/kit.py", "function": "lookup"}],
        tool_source=ASYNC_TOOL,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {"replies": {"A": [{"tool_calls": [{"name": "lookup", "arguments": {"order_id": "Z9"}}]}, "ok"]}}
    run, _ = play(workflow, script)

    [result] = events_of(run, "tool_result")
    assert (result.content, result.is_error) == (f"Z9: local-session:1:{result.tool_call_id}", False)


FAILING_ASYNC_TOOL = '''
async def lookup(order_id: str) -> str:
    """Look an order up."""
    raise LookupError(f"no order {order_id}")
'''


def test_a_failing_async_tool_tells_the_model_its_failure_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["lookup"])],
        tools=[{"name": "lookup", "file": "tools/kit.py", "function": "lookup"}],
        tool_source=FAILING_ASYNC_TOOL,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {"replies": {"A": [{"tool_calls": [{"name": "lookup", "arguments": {"order_id": "Z9"}}]}, "ok"]}}
    run, _ = play(workflow, script)

    # As a plain tool's failure: the model reads the failure (AG2's own thread would have said 'value').
    [result] = events_of(run, "tool_result")
    assert (result.content, result.is_error) == ("Error: no order Z9", True)
    [error] = events_of(run, "error")
    assert error.code == "tool_error" and error.message == "tool lookup failed: LookupError: no order Z9"
    assert "Traceback" not in capfd.readouterr().err  # no thread died on the way

"""The AG-UI encoder, pure: a fold whose state at any seq can be found from a window of stored events, so a
replay from any point equals the rest of the whole stream; live text opens what the stored events close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime_core.agui.delivery import state_at
from runtime_core.agui.encoder import AguiEncoder, AguiState, to_json
from runtime_core.deltas import TextDelta
from runtime_core.engine.driver import drive, scripted_inputs
from runtime_core.events import AgentMessage, ErrorEvent, Event, InputRequested, RunStarted, UserMessage
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import InputRequest
from runtime_core.workflow import load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "workflows"


def _events(name: str) -> list[Event]:
    workflow = load_workflow(EXAMPLES / name)
    script = load_script(EXAMPLES / name / "script.yaml")
    run = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)), session_id="s")
    return list(run.events)


def _encode(events: list[Event], state: AguiState | None = None) -> list[dict[str, Any]]:
    encoder = AguiEncoder("s", state)
    return [e for event in events for e in to_json(encoder.event(event))]


@pytest.mark.parametrize("name", ["CustomerSupport", "ContentReview", "TripPlanner"])
def test_a_replay_from_any_seq_is_the_rest_of_the_whole_stream(name: str) -> None:
    events = _events(name)
    whole = _encode(events)
    assert whole[0]["type"] == "RUN_STARTED" and whole[-1]["type"] == "RUN_FINISHED"

    def load(after: int, limit: int) -> list[Event]:
        return [e for e in events if after < e.seq <= after + limit]

    for cut in range(len(events) + 1):
        state = state_at("s", cut, load, window=3)  # a small window: the backward search is exercised
        assert state == _fold(events[:cut])
        rest = _encode(events[cut:], state)
        assert rest == [e for e in whole if e["metadata"]["seq"] > cut]


def _fold(events: list[Event]) -> AguiState:
    encoder = AguiEncoder("s")
    for event in events:
        encoder.event(event)
    return encoder.state


def _delta(offset: int, text: str, turn: int = 1, agent: str = "A") -> TextDelta:
    return TextDelta(session_id="s", agent=agent, turn=turn, message_id=f"s:{turn}", offset=offset, text=text)


def test_live_text_opens_the_run_step_and_message_that_the_stored_events_then_close() -> None:
    encoder = AguiEncoder("s", AguiState())  # waiting for the user: nothing open
    first = to_json(encoder.delta(_delta(0, "Hel"), first_seq=5))
    assert [e["type"] for e in first] == [
        "RUN_STARTED",
        "STEP_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
    ]
    assert first[0]["runId"] == "s:5" and first[1]["stepName"] == "A turn 1" and first[3]["delta"] == "Hel"
    # A repeat is cut to what is new; a piece past a gap is dropped (the stored message brings the rest).
    assert [e["delta"] for e in to_json(encoder.delta(_delta(1, "ello"), 5))] == ["lo"]
    assert to_json(encoder.delta(_delta(9, "zzz"), 5)) == []
    stored = [
        UserMessage(session_id="s", seq=5, input_id="m", text="hi"),
        AgentMessage(session_id="s", seq=6, agent="A", content="Hello world", turn=1),
    ]
    out = _encode_with(encoder, stored)
    assert [e["type"] for e in out] == [
        "TEXT_MESSAGE_START",  # the user's message, whole
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TEXT_MESSAGE_CONTENT",  # what the deltas did not send
        "TEXT_MESSAGE_END",
    ]
    assert out[3]["delta"] == " world" and out[4]["messageId"] == "s:1"


def _encode_with(encoder: AguiEncoder, events: list[Event]) -> list[dict[str, Any]]:
    return [e for event in events for e in to_json(encoder.event(event))]


def test_a_failed_step_ends_the_run_with_run_error_closing_its_text_and_a_retry_opens_a_new_run() -> None:
    encoder = AguiEncoder("s")
    _encode_with(encoder, [RunStarted(session_id="s", seq=1, workflow="W", agents=["A"])])
    encoder.delta(_delta(0, "half a rep"), first_seq=2)
    out = _encode_with(
        encoder, [ErrorEvent(session_id="s", seq=2, code="model_error", message="boom", recoverable=True)]
    )
    assert [e["type"] for e in out] == ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_ERROR"]
    assert out[-1]["code"] == "model_error" and encoder.state == AguiState()
    retried = _encode_with(encoder, [AgentMessage(session_id="s", seq=3, agent="A", content="ok", turn=1)])
    assert retried[0] == {"type": "RUN_STARTED", "threadId": "s", "runId": "s:3", **_meta(retried[0])}
    # An error the run goes on after is a CUSTOM event inside the run.
    tool = ErrorEvent(session_id="s", seq=4, code="tool_error", message="x", recoverable=True)
    assert [(e["type"], e["name"]) for e in _encode_with(encoder, [tool])] == [("CUSTOM", "mozaiks.error")]


def _meta(event: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": event["metadata"], "timestamp": event["timestamp"]}


def test_an_input_request_finishes_the_run_with_an_interrupt_naming_it() -> None:
    encoder = AguiEncoder("s")
    request = InputRequest(request_id="req-1", kind="user_turn", prompt="Anything else?", agent="A")
    out = _encode_with(
        encoder,
        [
            RunStarted(session_id="s", seq=1, workflow="W", agents=["A"]),
            InputRequested(session_id="s", seq=2, request=request),
        ],
    )
    assert [e["type"] for e in out] == ["RUN_STARTED", "CUSTOM", "CUSTOM", "RUN_FINISHED"]
    assert out[2]["value"]["request"]["request_id"] == "req-1"
    assert out[-1]["outcome"] == {
        "type": "interrupt",
        "interrupts": [{"id": "req-1", "reason": "user_turn", "message": "Anything else?"}],
    }
    assert all(e["metadata"]["seq"] in (1, 2) for e in out)

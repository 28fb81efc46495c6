"""Token streaming: the scripted model streams, the engine hands its text on as deltas, nothing else moves."""

from __future__ import annotations

from typing import Any

import pytest
from engine_kit import comparable, example

from runtime_core.deltas import TextDelta
from runtime_core.engine.driver import drive, scripted_inputs
from runtime_core.events import AgentMessage
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.llm.streaming import STREAM_OFF, STREAM_ON

EXAMPLE_NAMES = ["CustomerSupport", "ContentReview", "TripPlanner"]


class Recorder:
    def __init__(self) -> None:
        self.deltas: list[TextDelta] = []
        self.flushes = 0

    def delta(self, delta: TextDelta) -> None:
        self.deltas.append(delta)

    def flush(self) -> None:
        self.flushes += 1


def _run(name: str, sink: Recorder | None, **model: Any):
    workflow, path = example(name)
    script = load_script(path)
    scripted = ScriptedModel(script, **model)
    return drive(workflow, scripted, scripted_inputs(list(script.user_inputs)), on_delta=sink), scripted


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_streamed_text_adds_up_to_each_visible_agent_message_and_changes_nothing_else(name: str) -> None:
    plain, plain_model = _run(name, None)
    sink = Recorder()
    streamed, streamed_model = _run(name, sink, chunk_chars=5)
    # The run itself (events, transcript, usage) is the same with or without streaming, and so is every
    # byte the model receives but the stream switch.
    on, off = STREAM_ON.decode(), STREAM_OFF.decode()
    streamed_view, plain_view = comparable(streamed), comparable(plain)
    streamed_view["requests"] = [(*r[:-1], r[-1].replace(on, off)) for r in streamed_view["requests"]]
    assert streamed_view == plain_view
    assert any(on in r.body for r in streamed_model.requests)
    assert [r.prompt_tokens for r in streamed_model.requests] == [
        r.prompt_tokens for r in plain_model.requests
    ]
    assert all('"stream":true' not in r.body for r in plain_model.requests)
    texts: dict[str, str] = {}
    for delta in sink.deltas:
        so_far = texts.get(delta.message_id, "")
        assert delta.offset == len(so_far), "deltas of one message arrive contiguous, in order"
        assert delta.message_id == f"{delta.session_id}:{delta.turn}"
        texts[delta.message_id] = so_far + delta.text
    messages = [e for e in streamed.events if isinstance(e, AgentMessage)]
    workflow, _ = example(name)
    expected = {f"{m.session_id}:{m.turn}": m.content for m in messages}
    if any(a.structured_output for a in workflow.agents):
        # ContentReview: the Editor answers with a structured output, which is never streamed.
        assert all(d.agent != "Editor" for d in sink.deltas)
    assert texts == expected
    assert messages and sink.flushes >= len(messages)
    assert all(len(d.text) <= 5 for d in sink.deltas)


def test_a_workflow_or_an_agent_can_turn_streaming_off(tmp_path) -> None:
    from engine_kit import agent, play, write_workflow

    script = {"user_inputs": ["hi"], "replies": {"A": ["from A"], "B": ["from B"]}}

    def deltas(**options: Any) -> set[str]:
        sink = Recorder()
        workflow = write_workflow(
            tmp_path / str(len(list(tmp_path.iterdir()))),
            agents=[agent("A", **options.pop("a", {})), agent("B")],
            orchestration_strategy="round_robin",
            max_turns=2,
            **options,
        )
        from runtime_core.llm.script import Script

        parsed = Script.model_validate(script)
        drive(workflow, ScriptedModel(parsed), scripted_inputs(list(parsed.user_inputs)), on_delta=sink)
        return {d.agent for d in sink.deltas}

    assert deltas() == {"A", "B"}
    assert deltas(streaming=False) == set()
    assert deltas(a={"streaming": False}) == {"B"}
    assert deltas(streaming=False, a={"streaming": True}) == {"A"}
    assert deltas(visible_agents=["B"]) == {"B"}
    assert play  # the kit's helper stays importable for the other tests


class _OpenAIStream(ScriptedModel):
    """An OpenAI-compatible server's stream: text and tool-call arguments in fragments, usage in a last
    chunk only when asked for (``stream_options.include_usage``), ``: keep-alive`` comments, CRLF lines."""

    def __init__(self) -> None:
        from runtime_core.llm.script import Script

        super().__init__(Script())
        self.bodies: list[dict[str, Any]] = []

    def _handle(self, request):  # type: ignore[no-untyped-def]
        import json

        import httpx

        body = json.loads(request.read())
        self.bodies.append(body)
        head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}

        def data(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return b"data: " + json.dumps(head | {"choices": choices} | extra).encode() + b"\r\n\r\n"

        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": ""},
        }
        parts = [
            b": keep-alive\r\n\r\n",
            data([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
            data([{"index": 0, "delta": {"content": "Let me "}, "finish_reason": None}]),
            data([{"index": 0, "delta": {"content": "check."}, "finish_reason": None}]),
            data([{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]),
            data(
                [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"q": '}}]}}]
            ),
            data([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"A1"}'}}]}}]),
            data([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            parts.append(data([], usage={"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}))
        parts.append(b"data: [DONE]\r\n\r\n")
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(parts))


def test_an_openai_stream_is_assembled_with_its_tool_call_and_its_usage_is_recorded(tmp_path) -> None:
    from engine_kit import agent, write_workflow

    from runtime_core.engine.step import run_step
    from runtime_core.events import ToolCallEvent
    from runtime_core.session import UserInput, new_session

    workflow = write_workflow(
        tmp_path / "w",
        agents=[agent("A", tools=["lookup"])],
        tools=[
            {
                "name": "lookup",
                "file": "tools/kit.py",
                "function": "lookup",
                "description": "Look up.",
                "kind": "agent",
                "agents": ["A"],
            }
        ],
        tool_source="def lookup(q: str) -> str:\n    return q\n",
    )
    model, sink, usage = _OpenAIStream(), Recorder(), []
    state = run_step(new_session(workflow, "s1"), workflow, model).state
    result = run_step(
        state,
        workflow,
        model,
        UserInput(kind="message", input_id="m1", text="hi"),
        on_model_call=usage.append,
        on_delta=sink,
    )
    assert model.bodies[-1]["stream"] is True and model.bodies[-1]["stream_options"] == {
        "include_usage": True
    }
    assert [(d.offset, d.text) for d in sink.deltas] == [(0, "Let me "), (7, "check.")]
    calls = [e for e in result.events if isinstance(e, ToolCallEvent)]
    assert [(c.call.id, c.call.name, c.call.arguments) for c in calls] == [
        ("call_1", "lookup", '{"q": "A1"}')
    ]
    messages = [e for e in result.events if isinstance(e, AgentMessage)]
    assert [m.content for m in messages] == ["Let me check."]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usage] == [(31, 9)]


def test_a_stream_request_changes_only_the_stream_switch() -> None:
    import httpx

    from runtime_core.llm.streaming import streaming_request

    def request(body: bytes) -> httpx.Request:
        return httpx.Request("POST", "https://model.test/v1/chat/completions", content=body)

    streamed = streaming_request(request(b'{"messages":[],"model":"m","stream":false,"n":1}'))
    assert streamed is not None
    assert streamed.read() == b'{"messages":[],"model":"m",' + STREAM_ON + b',"n":1}'
    assert streamed.headers["content-length"] == str(len(streamed.read()))
    appended = streaming_request(request(b'{"model":"m"}'))
    assert appended is not None and appended.read() == b'{"model":"m",' + STREAM_ON + b"}"
    # Already streaming, or a nested "stream":false that could be mistaken for the switch: left alone.
    assert streaming_request(request(b'{"model":"m","stream":true}')) is None
    nested = b'{"model":"m","stream":false,"metadata":{"x":{"stream":false}}}'
    assert streaming_request(request(nested)) is None
    assert streaming_request(request(b"[1]")) is None


def test_a_server_that_refuses_stream_requests_gets_the_call_unstreamed_and_is_not_asked_again() -> None:
    import httpx

    from runtime_core.llm import streaming
    from runtime_core.llm.meter import EXTENSION
    from runtime_core.llm.streaming import StreamTransport

    seen: list[bytes] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = request.read()
        seen.append(body)
        if b"stream_options" in body:
            return httpx.Response(
                400, json={"error": {"message": "Unrecognized request argument: stream_options"}}
            )
        return httpx.Response(200, json={"id": "x", "choices": [{"message": {"content": "whole"}}]})

    texts: list[str] = []
    transport = StreamTransport(
        httpx.MockTransport(server), wants=lambda a, p: True, on_text=lambda a, o, t: texts.append(t)
    )

    def call() -> httpx.Response:
        request = httpx.Request(
            "POST", "https://legacy.test/v1/chat/completions", content=b'{"model":"m","stream":false}'
        )
        request.extensions[EXTENSION] = {"agent": "A", "purpose": "reply", "call": 0}
        return transport.handle_request(request)

    try:
        assert call().json()["choices"][0]["message"]["content"] == "whole"
        assert [b"stream_options" in body for body in seen] == [True, False]
        assert call().status_code == 200
        assert [b"stream_options" in body for body in seen] == [True, False, False]  # not asked again
        assert texts == []
    finally:
        streaming._REFUSED.discard("legacy.test")

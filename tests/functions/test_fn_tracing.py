"""Traces across the queue: $default -> SQS -> worker -> agent turns, model calls and tool calls, with the
SDK's in-memory exporter. One trace runs from the frame to the last post of the step it caused; a chained step
(or one the sweeper re-armed) starts its own trace with a link back to the span that queued it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from runtime_core.telemetry import tracing
from runtime_core.telemetry.otel import backend
from tests.functions.harness import Client, replies_of, run_queue
from tests.functions.test_fn_delivery import clock, drop_queued, say, stack, start, sweep

__all__ = ["clock", "stack"]  # fixtures shared with the delivery suite


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    previous = tracing.install(backend(exporter, "mozaiks-test", simple=True))
    try:
        yield exporter
    finally:
        tracing.install(previous)


def named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def ancestors(spans: list[ReadableSpan], span: ReadableSpan) -> list[str]:
    by_id = {s.context.span_id: s for s in spans}
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(span.name)
    return out


def test_one_trace_from_the_frame_through_the_queue_to_the_model(
    aws: Any, services: Any, store: Any, spans: InMemorySpanExporter
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    frame = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    session_id = replies_of(client.send(frame))[0]["session_id"]

    # The step message carries the frame span's context through SQS.
    [queued] = aws.receive()
    body = json.loads(queued["Body"])
    assert body["trace"]["traceparent"].startswith("00-") and body["frame_at"] is not None
    aws.sqs.change_message_visibility(
        QueueUrl=aws.url, ReceiptHandle=queued["ReceiptHandle"], VisibilityTimeout=0
    )
    run_queue(aws)
    finished = list(spans.get_finished_spans())

    [frame_span] = named(finished, "mozaiks.frame")
    assert frame_span.parent is None and frame_span.kind == SpanKind.SERVER
    assert frame_span.attributes["mozaiks.frame.type"] == "start"
    steps = named(finished, "mozaiks.step")
    first = next(s for s in steps if s.attributes["mozaiks.step.reason"] == "start")
    # The step continues the frame's trace: its parent is the frame's span, across the queue.
    assert first.context.trace_id == frame_span.context.trace_id
    assert first.parent is not None and first.parent.span_id == frame_span.context.span_id
    assert first.kind == SpanKind.CONSUMER and first.attributes["mozaiks.session_id"] == session_id
    [wait] = [
        s for s in named(finished, "mozaiks.queue_wait") if s.context.trace_id == first.context.trace_id
    ]
    assert wait.parent.span_id == frame_span.context.span_id and wait.end_time >= wait.start_time

    # claim, engine, commit and post are the step's children, in that order.
    parts = sorted(children(finished, first), key=lambda s: s.start_time)
    assert [s.name for s in parts] == ["mozaiks.claim", "mozaiks.engine", "mozaiks.commit", "mozaiks.post"]
    engine = parts[1]
    [turn] = children(finished, engine)
    assert turn.name == "invoke_agent SupportAgent"
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.agent.name"] == "SupportAgent"
    assert turn.attributes["gen_ai.conversation.id"] == session_id
    [call] = children(finished, turn)
    assert call.kind == SpanKind.CLIENT and call.attributes["gen_ai.operation.name"] == "chat"
    assert call.name == f"chat {call.attributes['gen_ai.request.model']}"
    [ledger] = list(store.usage.find({"session_id": session_id}).sort("created_at", 1).limit(1))
    assert call.attributes["gen_ai.usage.input_tokens"] == ledger["prompt_tokens"] > 0
    assert call.attributes["gen_ai.usage.output_tokens"] == ledger["completion_tokens"]
    assert call.attributes["gen_ai.agent.name"] == "SupportAgent"

    # Every model call of the session is one span.
    calls = named(finished, "chat ")
    assert len(calls) == store.usage.count_documents({"session_id": session_id, "status": "done"}) >= 2

    # The chained step (the tool run) is its own trace, linked to the step that queued it.
    chained = next(s for s in steps if s.attributes["mozaiks.step.reason"] == "continue")
    assert chained.context.trace_id != first.context.trace_id and chained.parent is None
    assert [link.context.span_id for link in chained.links] == [first.context.span_id]
    [tool] = named(finished, "execute_tool check_status")
    assert tool.attributes["gen_ai.tool.name"] == "check_status" and tool.attributes["gen_ai.tool.call.id"]
    assert tool.context.trace_id == chained.context.trace_id
    assert ancestors(finished, tool)[-2:] == ["mozaiks.engine", "mozaiks.step"]


def test_tracing_off_puts_nothing_in_the_message(aws: Any, services: Any) -> None:
    assert not tracing.enabled()
    client = Client(aws, "conn-A")
    client.connect()
    client.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "hi"})
    [queued] = aws.receive()
    body = json.loads(queued["Body"])
    assert body["trace"] is None and body["enqueued_at"] > 0


def test_a_step_the_sweeper_re_armed_links_back_to_the_sweep(
    aws: Any, stack: Any, clock: Any, spans: InMemorySpanExporter
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = start(client)
    run_queue(aws)
    say(client, session_id, "m-2", "Thanks. I'd like to talk to a human about a refund.")
    drop_queued(aws)  # the step message is lost: only the sweeper can move the session now
    clock.advance(stack.store.recovery_grace_seconds + 1)
    spans.clear()
    assert sweep(stack).queued == 1
    run_queue(aws)
    finished = list(spans.get_finished_spans())
    [swept] = [
        s for s in named(finished, "mozaiks.sweep") if s.attributes["mozaiks.sweep.outcome"] == "queued"
    ]
    assert swept.attributes["mozaiks.session_id"] == session_id
    step = next(
        s for s in named(finished, "mozaiks.step") if s.attributes["mozaiks.session_id"] == session_id
    )
    # Not caused by a frame: its own trace, linked to the sweep that queued it.
    assert step.parent is None and step.context.trace_id != swept.context.trace_id
    assert [link.context.span_id for link in step.links] == [swept.context.span_id]

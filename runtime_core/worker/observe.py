"""What one delivery reports about itself besides its result: its timings (the step metrics) and its spans.

The engine's time (``StepDuration``) understates what a user waits for, so a delivery also measures the queue
wait (the message's ``enqueued_at`` to the claim), the whole step (claim to its last post), the time from the
client frame that caused it to its first post, and what it posted. Clocks: the queue wait and the frame time
compare epoch times of two processes (the sender's and the worker's); they are clamped at 0 so a small clock
skew between hosts never gives a negative metric.

Spans: ``mozaiks.step`` (with ``mozaiks.claim``, ``mozaiks.engine``, ``mozaiks.commit``, ``mozaiks.post`` as
children, opened by the worker) continues the trace of the frame that caused the step; a step chained by a
worker or re-armed by the sweeper starts its own trace with a link back to the span that queued it.
``mozaiks.queue_wait`` covers the time the message spent in the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from runtime_core.queue import StepMessage
from runtime_core.session import UsageTotals
from runtime_core.telemetry import StepTimings, tracing
from runtime_core.telemetry.tracing import SpanHandle
from runtime_core.worker.outbox import PostReport

MetricsSink = Callable[[str, str, UsageTotals, float, str | None, StepMessage, StepTimings | None], None]


class StepClock:
    """The timings of one delivery, from its claim to its last post."""

    def __init__(self, message: StepMessage) -> None:
        self.message = message
        self.claimed_at = time.time()
        self._claimed = time.perf_counter()

    @property
    def queue_wait_ms(self) -> float | None:
        if self.message.enqueued_at is None:
            return None
        return max(0.0, (self.claimed_at - self.message.enqueued_at) * 1000)

    def timings(self, posted: PostReport | None) -> StepTimings:
        first_event = None
        if posted is not None and posted.first_post_at is not None and self.message.frame_at is not None:
            first_event = max(0.0, (posted.first_post_at - self.message.frame_at) * 1000)
        return StepTimings(
            queue_wait_ms=self.queue_wait_ms,
            end_to_end_ms=(time.perf_counter() - self._claimed) * 1000,
            frame_to_first_event_ms=first_event,
            posts=posted.posts if posted is not None else 0,
            posted_bytes=posted.bytes if posted is not None else 0,
            post_failures=posted.failed if posted is not None else 0,
        )


@contextmanager
def step_span(message: StepMessage, clock: StepClock) -> Iterator[SpanHandle]:
    """The delivery's span, after a ``mozaiks.queue_wait`` span for its time in the queue. A step a client
    frame caused continues the frame's trace; any other (chained, swept) links to the span that queued it."""
    if not tracing.enabled():
        yield tracing.NO_SPAN
        return
    caused_by_frame = message.frame_at is not None
    parent = message.trace if caused_by_frame else None
    links = [] if caused_by_frame or message.trace is None else [message.trace]
    attributes = {
        "mozaiks.session_id": message.session_id,
        "mozaiks.app_id": message.app_id,
        "mozaiks.step.reason": message.reason,
        "messaging.system": "aws_sqs",
        "messaging.operation.type": "process",
    }
    if message.enqueued_at is not None:
        tracing.interval(
            "mozaiks.queue_wait",
            message.enqueued_at,
            clock.claimed_at,
            {"mozaiks.step.reason": message.reason},
            parent=parent,
            links=links,
        )
    with tracing.span("mozaiks.step", attributes, kind="consumer", parent=parent, links=links) as span:
        yield span

"""The body of a step message. The tenant travels with it because it was taken from the verified connection
record when the step was enqueued; the worker still claims through the tenant-scoped store.

It also carries what the worker's metrics and traces need from the sender: when it was enqueued (the queue
wait is measured from it), when the client frame that caused it arrived (for the time to the first event),
and the trace context of the span that enqueued it (W3C ``traceparent``), so one trace runs from the frame
through the queue to the step's last post.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from runtime_core.session import Tenant

StepReason = Literal["start", "input", "continue", "cancel", "retry", "sweep"]


class StepMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1, max_length=128)
    app_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)
    # Why this step was enqueued; informational (logs), the worker decides from the session's state.
    reason: StepReason
    # FIFO deduplication id: the same logical step enqueued twice (a retried frame, a redelivered worker
    # message that re-enqueues) is delivered once within SQS's 5-minute window.
    dedup_id: str = Field(min_length=1, max_length=128)
    # Epoch seconds (the sender's clock): when the message was enqueued, and when the client frame that caused
    # it reached API Gateway (None for a step chained by a worker or queued by the sweeper).
    enqueued_at: float | None = None
    frame_at: float | None = None
    # W3C trace context of the enqueuing span (``traceparent``, ``tracestate``); None when tracing is off.
    trace: dict[str, str] | None = Field(default=None, max_length=4)

    @classmethod
    def of(cls, tenant: Tenant, session_id: str, reason: StepReason, dedup_id: str) -> Self:
        """A step of ``session_id``, with the tenant taken from a verified connection or session."""
        return cls(
            session_id=session_id,
            app_id=tenant.app_id,
            user_id=tenant.user_id,
            reason=reason,
            dedup_id=dedup_id,
            enqueued_at=time.time(),
            frame_at=_frame_at.get(),
            trace=_inject(),
        )


_frame_at: ContextVar[float | None] = ContextVar("mozaiks_frame_at", default=None)


@contextmanager
def answering_frame(received_at: float) -> Iterator[None]:
    """Steps enqueued inside this block were caused by a client frame that arrived at ``received_at``."""
    token = _frame_at.set(received_at)
    try:
        yield
    finally:
        _frame_at.reset(token)


def _inject() -> dict[str, str] | None:
    from runtime_core.telemetry.tracing import inject

    return inject()

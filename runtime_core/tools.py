"""For tool authors: which tool call is running, and a key to make its side effects happen once.

A workflow's tool functions (``workflows/<Name>/tools/*.py``) may run more than once for the same call: the
runtime records every model reply before it runs the reply's tools, in a separate step, and retries a step
that crashed before it was saved. A retried step executes the same recorded tool call again, so anything
that must happen once (a payment, a booking, an email) should pass ``idempotency_key`` to the service that
does it::

    from runtime_core.tools import current_tool_call

    def book_trip(destination: str) -> str:
        call = current_tool_call()
        key = call.idempotency_key if call else None
        booking = bookings.create(destination=destination, idempotency_key=key)
        return f"Booked: {booking.reference}"

The key is the same in every retry, in any process, and different for every tool call of the session.

Importing this module is cheap (no AG2, no engine): tool modules may import it at the top.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import BaseModel, ConfigDict, Field, computed_field


class ToolCallInfo(BaseModel):
    """The tool call a tool function is executing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str
    tool_name: str
    # The id the model gave the call (``call_...``); unique within one model reply.
    tool_call_id: str
    # The agent whose reply made the call.
    agent: str
    # Transcript position of that reply: with the session it makes the key unique even when a provider
    # reuses call ids from one reply to the next (some OpenAI-compatible servers number them 0, 1, ...).
    message_seq: int = Field(ge=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def idempotency_key(self) -> str:
        """Stable across retries and processes; pass it to payment/booking APIs as their idempotency key."""
        return f"{self.session_id}:{self.message_seq}:{self.tool_call_id}"


_current: ContextVar[ToolCallInfo | None] = ContextVar("mozaiks_current_tool_call", default=None)


def current_tool_call() -> ToolCallInfo | None:
    """The call being executed, inside a tool function run by the engine; None anywhere else."""
    return _current.get()


@contextmanager
def executing(call: ToolCallInfo) -> Iterator[ToolCallInfo]:
    """Used by the engine around a tool function: ``current_tool_call()`` returns ``call`` inside."""
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)

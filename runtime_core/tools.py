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

A tool may also wait for the user in the middle of its body: ``ask_ui(component, payload)`` returns the
client's answer. Steps are stateless, so the first time the tool reaches the call, the step ends there (the
client gets an ``input_request`` for ``component``); when the answer arrives, the next step runs the tool
again **from the start** and ``ask_ui`` returns the recorded answer at that point (deterministic replay).
Everything before a wait therefore runs once per step that reaches it: keep it free of side effects, or make
them idempotent with ``idempotency_key``, which is the same in every replay.

Importing this module is cheap (no AG2, no engine): tool modules may import it at the top.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

Display = Literal["inline", "artifact"]


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


class NotInTool(RuntimeError):
    """``ask_ui`` was called outside a tool function the engine runs."""


class UIWait(BaseException):
    """Raised by ``ask_ui`` when the answer is not recorded yet: it ends the tool and the step.

    A BaseException, so that a tool's own ``except Exception`` guard does not swallow the wait (and if a tool
    swallows it anyway, the engine still knows: ``Interactions.pending``).
    """

    def __init__(self, component: str, payload: dict[str, Any], display: Display) -> None:
        super().__init__(f"waiting for the user's answer in {component}")
        self.component = component
        self.payload = payload
        self.display = display


@dataclass
class Interactions:
    """One step's waits for the UI: the answers recorded so far, by tool call id, in the order asked.

    The engine fills ``answers`` from the session state, calls ``start`` before each run of a tool, and reads
    ``pending`` after it: set when the tool reached a wait with no answer yet.
    """

    # Tool call id -> recorded answers, oldest first: {"request_id": ..., "data": {...}}.
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Component -> display mode, from the workflow's tools.yaml ``ui`` blocks.
    displays: dict[str, Display] = field(default_factory=dict)
    pending: UIWait | None = None
    _asked: int = 0

    def start(self) -> None:
        """A tool (re)starts: it will meet its waits from the first one."""
        self._asked = 0

    def ask(self, call_id: str, component: str, payload: dict[str, Any], display: Display | None) -> dict:
        recorded = self.answers.get(call_id, [])
        index, self._asked = self._asked, self._asked + 1
        if index < len(recorded):
            answer = dict(recorded[index]["data"])
            answer.setdefault("ui_event_id", recorded[index]["request_id"])
            return answer
        # JSON form: what the client gets, and what a replay compares equal.
        body = json.loads(json.dumps(payload, default=str))
        self.pending = UIWait(component, body, display or self.displays.get(component, "inline"))
        raise self.pending


_current: ContextVar[ToolCallInfo | None] = ContextVar("mozaiks_current_tool_call", default=None)
_interactions: ContextVar[Interactions | None] = ContextVar("mozaiks_tool_interactions", default=None)


def current_tool_call() -> ToolCallInfo | None:
    """The call being executed, inside a tool function run by the engine; None anywhere else."""
    return _current.get()


def ask_ui(component: str, payload: dict[str, Any], *, display: Display | None = None) -> dict[str, Any]:
    """Ask the user through the client component ``component``; the client's answer (a dict).

    ``display``: inline (in the chat) or artifact (a side panel); by default the mode tools.yaml gives the
    component, else inline. The answer carries ``ui_event_id``, the id of the input request it answered.
    See the module docstring for what replay means for the code before the wait.
    """
    call, interactions = _current.get(), _interactions.get()
    if call is None or interactions is None:
        raise NotInTool("ask_ui waits for the user only inside a tool the MozaiksAI runtime runs")
    return interactions.ask(call.tool_call_id, component, payload, display)


@contextmanager
def executing(call: ToolCallInfo, interactions: Interactions | None = None) -> Iterator[ToolCallInfo]:
    """Used by the engine around a tool function: ``current_tool_call()`` returns ``call`` inside."""
    token = _current.set(call)
    waits = _interactions.set(interactions)
    try:
        yield call
    finally:
        _interactions.reset(waits)
        _current.reset(token)

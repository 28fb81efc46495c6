"""Session events (and live text) as AG-UI events, built with the official ``ag-ui-protocol`` types.

Pure: a fold over a session's events. ``AguiEncoder(session_id, state).event(e)`` returns the AG-UI events
for one session event and moves ``state`` on; ``delta(d, first_seq)`` does the same for a ``text_delta``.
The mapping (docs/websocket-protocol.md, "AG-UI"):

- A *run* is a stretch of work between two waits: it opens (``RUN_STARTED``, ``runId`` = ``<session>:<seq>``
  of the event that opened it) with the first event after a wait, and closes with ``RUN_FINISHED`` at an
  ``input_request`` (outcome ``interrupt``), at ``run_completed`` (``success`` or ``cancelled``), or with
  ``RUN_ERROR`` at an error that stops the step. The thread is the session.
- A *step* is an agent turn: ``STEP_STARTED`` "<agent> turn <n>" at its ``speaker_selected``, finished at the
  next one or when the run closes.
- ``user_message`` and ``agent_message`` are text messages (START / CONTENT / END); a streamed reply opens
  its message at its first delta and the ``agent_message`` sends what the deltas did not, then END.
- ``tool_call`` is TOOL_CALL_START / ARGS / END, ``tool_result`` TOOL_CALL_RESULT.
- ``context_updated`` is STATE_SNAPSHOT the first time in a run, then STATE_DELTA (JSON Patch).
- What AG-UI has no type for is CUSTOM, named ``mozaiks.<event type>``: input requests, usage, handoffs,
  structured outputs, errors that do not stop the step, the run's workflow and agents.

Every AG-UI event made from a stored event carries ``metadata.seq``, that event's ``seq`` (what a client
resumes from); events made from deltas carry none. The same stored events from the same state always give
the same AG-UI events, which is what makes a replay equal the live stream (less its deltas).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core.events import (
    Interrupt,
    RunFinishedCancelledOutcome,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
)
from pydantic import BaseModel, Field

from runtime_core.deltas import TextDelta, message_id
from runtime_core.events import Event

# Error codes after which the step did not go through: the run stops here (RUN_ERROR); the others (a tool
# that raised, an invalid structured output, an input the run ended without) are reported and it goes on.
STOPS_THE_STEP = frozenset(
    {
        "invalid_input",
        "model_error",
        "model_timeout",
        "model_config_error",
        "script_exhausted",
        "script_error",
        "session_closed",
        "workflow_error",
    }
)
CUSTOM_PREFIX = "mozaiks."


class AguiState(BaseModel):
    """Where a connection's AG-UI stream stands: the open run and step, the text messages deltas opened."""

    run_id: str | None = None
    step: str | None = None
    # message id -> characters of it already sent (by deltas) on this connection
    texts: dict[str, int] = Field(default_factory=dict)
    # The context variables as the run's last STATE_SNAPSHOT / STATE_DELTA left them (None: none sent yet).
    context: dict[str, Any] | None = None


def step_name(agent: str, turn: int) -> str:
    return f"{agent} turn {turn}"


class AguiEncoder:
    def __init__(self, session_id: str, state: AguiState | None = None) -> None:
        self.session_id = session_id
        self.state = state.model_copy(deep=True) if state is not None else AguiState()
        self._finishing = ""  # the run id _close_run closed, for the caller's closing event

    # ---- a new connection joining mid-way ------------------------------------------------------------------
    def prologue(self) -> list[BaseEvent]:
        """What a connection that starts following the session at this state first needs: the open run and
        step opened again (its own stream starts here). Text opened by deltas belongs to other connections."""
        out: list[BaseEvent] = []
        self.state.texts = {}
        if self.state.run_id is not None:
            out.append(RunStartedEvent(thread_id=self.session_id, run_id=self.state.run_id))
            if self.state.context is not None:
                out.append(StateSnapshotEvent(snapshot=self.state.context))
            if self.state.step is not None:
                out.append(StepStartedEvent(step_name=self.state.step))
        return out

    # ---- live text -----------------------------------------------------------------------------------------
    def delta(self, delta: TextDelta, first_seq: int) -> list[BaseEvent]:
        """A ``text_delta``. ``first_seq``: the seq the step's first stored event will take, which opens the
        run if it is not open (the deltas of a step arrive before its stored events)."""
        out: list[BaseEvent] = []
        self._open_run(first_seq, out, {})
        self._open_step(step_name(delta.agent, delta.turn), out, {})
        sent = self.state.texts.get(delta.message_id)
        if sent is None:
            out.append(TextMessageStartEvent(message_id=delta.message_id, role="assistant", name=delta.agent))
            sent = 0
        if delta.offset <= sent < delta.offset + len(delta.text):
            piece = delta.text[sent - delta.offset :]
            out.append(TextMessageContentEvent(message_id=delta.message_id, delta=piece))
            sent += len(piece)
        # A piece past what was sent (one was missed) is dropped: the agent_message sends the rest.
        self.state.texts[delta.message_id] = sent
        return out

    # ---- stored events -------------------------------------------------------------------------------------
    def event(self, event: Event) -> list[BaseEvent]:
        meta: dict[str, Any] = {"metadata": {"seq": event.seq}, "timestamp": _millis(event.ts)}
        out: list[BaseEvent] = []
        kind = event.type
        if kind == "run_completed":
            self._open_run(event.seq, out, meta)
            outcome = (
                RunFinishedCancelledOutcome(type="cancelled")
                if event.status == "cancelled"
                else RunFinishedSuccessOutcome(type="success")
            )
            self._close_run(out, meta)
            out.append(
                RunFinishedEvent(
                    thread_id=self.session_id,
                    run_id=self._finishing,
                    result={"status": event.status, "reason": event.reason},
                    outcome=outcome,
                    **meta,
                )
            )
            return out
        if kind == "input_request":
            self._open_run(event.seq, out, meta)
            request = event.request
            out.append(self._custom(event, meta))
            interrupt = Interrupt(
                id=request.request_id,
                reason=request.kind,
                message=request.prompt or None,
                tool_call_id=request.tool_call_id,
            )
            self._close_run(out, meta)
            out.append(
                RunFinishedEvent(
                    thread_id=self.session_id,
                    run_id=self._finishing,
                    outcome=RunFinishedInterruptOutcome(type="interrupt", interrupts=[interrupt]),
                    **meta,
                )
            )
            return out
        if kind == "error" and event.code in STOPS_THE_STEP:
            self._open_run(event.seq, out, meta)
            self._close_run(out, meta)
            out.append(RunErrorEvent(message=event.message, code=event.code, **meta))
            return out
        self._open_run(event.seq, out, meta)
        if kind == "run_started":
            out.append(self._custom(event, meta))
        elif kind == "speaker_selected":
            self._open_step(step_name(event.agent, event.turn), out, meta)
        elif kind == "user_message":
            self._text(f"{self.session_id}:u{event.seq}", "user", None, event.text, out, meta)
        elif kind == "agent_message":
            self._text(
                message_id(self.session_id, event.turn), "assistant", event.agent, event.content, out, meta
            )
        elif kind == "tool_call":
            call = event.call
            out.append(ToolCallStartEvent(tool_call_id=call.id, tool_call_name=call.name, **meta))
            if call.arguments:
                out.append(ToolCallArgsEvent(tool_call_id=call.id, delta=call.arguments, **meta))
            out.append(ToolCallEndEvent(tool_call_id=call.id, **meta))
        elif kind == "context_updated":
            out.append(self._state(event, meta))
        elif kind == "tool_result":
            out.append(
                ToolCallResultEvent(
                    message_id=f"{self.session_id}:r{event.seq}",
                    tool_call_id=event.tool_call_id,
                    content=event.content,
                    role="tool",
                    **meta,
                )
            )
        else:  # handoff, structured_output, usage, an error the run goes on after
            out.append(self._custom(event, meta))
        return out

    # ---- helpers -------------------------------------------------------------------------------------------
    def _custom(self, event: Event, meta: dict[str, Any]) -> CustomEvent:
        value = event.model_dump(mode="json", exclude={"type", "session_id", "seq", "ts"})
        return CustomEvent(name=CUSTOM_PREFIX + event.type, value=value, **meta)

    def _state(self, event: Any, meta: dict[str, Any]) -> BaseEvent:
        """The run's first context change is a snapshot, the next ones JSON Patch deltas against it."""
        known, self.state.context = self.state.context, dict(event.variables)
        if known is None:
            return StateSnapshotEvent(snapshot=event.variables, **meta)
        ops: list[dict[str, Any]] = [
            {"op": "add", "path": _pointer(name), "value": event.variables[name]} for name in event.changed
        ]
        ops += [{"op": "remove", "path": _pointer(name)} for name in event.removed if name in known]
        return StateDeltaEvent(delta=ops, **meta)

    def _open_run(self, seq: int, out: list[BaseEvent], meta: dict[str, Any]) -> None:
        if self.state.run_id is None:
            self.state.run_id = f"{self.session_id}:{seq}"
            out.append(RunStartedEvent(thread_id=self.session_id, run_id=self.state.run_id, **meta))

    def _open_step(self, name: str, out: list[BaseEvent], meta: dict[str, Any]) -> None:
        if self.state.step == name:
            return
        if self.state.step is not None:
            out.append(StepFinishedEvent(step_name=self.state.step, **meta))
        self.state.step = name
        out.append(StepStartedEvent(step_name=name, **meta))

    def _close_run(self, out: list[BaseEvent], meta: dict[str, Any]) -> None:
        """Close what is open inside the run (text opened by deltas whose message never came: its step
        failed), leaving the run's own closing event to the caller."""
        for open_id in self.state.texts:
            out.append(TextMessageEndEvent(message_id=open_id, **meta))
        if self.state.step is not None:
            out.append(StepFinishedEvent(step_name=self.state.step, **meta))
        self._finishing = self.state.run_id or ""
        self.state = AguiState()

    def _text(
        self,
        text_id: str,
        role: str,
        name: str | None,
        content: str,
        out: list[BaseEvent],
        meta: dict[str, Any],
    ) -> None:
        sent = self.state.texts.pop(text_id, None)
        if sent is None:
            out.append(TextMessageStartEvent(message_id=text_id, role=role, name=name, **meta))  # type: ignore[arg-type]
            sent = 0
        rest = content[sent:]
        if rest:
            out.append(TextMessageContentEvent(message_id=text_id, delta=rest, **meta))
        out.append(TextMessageEndEvent(message_id=text_id, **meta))


def _pointer(name: str) -> str:
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def to_json(events: list[BaseEvent]) -> list[dict[str, Any]]:
    """The wire form: camelCase keys, unset fields left out."""
    return [e.model_dump(mode="json", by_alias=True) for e in events]


def state_after(session_id: str, events: list[Event], state: AguiState | None = None) -> AguiState:
    """The state a stream is in after ``events`` (from ``state``, or the session's start)."""
    encoder = AguiEncoder(session_id, state)
    for event in events:
        encoder.event(event)
    return encoder.state

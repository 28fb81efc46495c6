"""Step results the worker builds or amends itself: inputs a finished run never used, and refusals."""

from __future__ import annotations

from typing import Any

from runtime_core.events import ErrorEvent, Event, RunCompleted
from runtime_core.session import SessionState, UserInput


def report_unconsumed(result: Any, leftover: list[UserInput]) -> None:
    """The run ended with inputs still queued: say so for each (before the closing event), never drop them."""
    events: list[Event] = list(result.events)
    closing = events.pop() if events and isinstance(events[-1], RunCompleted) else None
    # The step's events are numbered without gaps up to last_event_seq.
    seq = result.state.last_event_seq - (1 if closing is not None else 0)
    for pending in leftover:
        seq += 1
        events.append(
            ErrorEvent(
                session_id=result.state.session_id,
                seq=seq,
                code="input_not_consumed",
                message=f"the run ended before input {pending.input_id!r} was used; it was not processed",
                recoverable=False,
                input_id=pending.input_id,
            )
        )
    if closing is not None:
        seq += 1
        events.append(closing.model_copy(update={"seq": seq}))
    result.events = events
    result.state.last_event_seq = seq


def refusal(state: SessionState, code: str, message: str) -> Any:
    from runtime_core.engine.step import StepResult

    new_state = state.model_copy(deep=True)
    new_state.last_event_seq += 1
    new_state.error = message
    event = ErrorEvent(session_id=state.session_id, seq=new_state.last_event_seq, code=code, message=message)
    return StepResult(state=new_state, events=[event])

"""Step results the worker builds, amends or judges itself: inputs a finished run never used, refusals, a
failure that repeats the stored one, and which inputs a step consumed or refused."""

from __future__ import annotations

from typing import Any

from runtime_core.events import ErrorEvent, Event, RunCompleted
from runtime_core.session import SessionState, UserInput
from runtime_core.worker.decision import Decision


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


def repeats_failure(state: SessionState, result: Any) -> bool:
    """A failed step (not a refusal: those keep ``state.error`` as it was) failing as the stored one did."""
    failed = result.error_code is not None and result.state.error is not None
    return failed and state.error is not None and result.state.error == state.error


def inputs_outcome(decision: Decision, result: Any) -> tuple[list[str], list[str]]:
    """(consumed, refused) msg_ids. An input is consumed only by a step that did not fail (after a model error
    it stays pending and the next step tries it again); an input the step refused gives its msg_id back."""
    if decision.user_input is None:
        return [], []
    input_id = decision.user_input.input_id
    if result.error_code == "invalid_input":
        return [], [input_id]
    if result.state.error is not None:
        return [], []
    return [input_id], []

"""What one delivery of a step message should do, decided from the claimed session alone.

Redeliveries are the normal case with SQS, and several messages may stand for the same step (a client retry,
a re-arm by ``resume`` or the sweeper), so every delivery decides from the session, not from the message:

* a finished session: nothing;
* a cancel request: ``cancel_step``;
* ``continue`` messages carry the session's progress when they were enqueued (``dedup_id =
  "p<messages>.<last event seq>"``, which every committed step advances and a claim does not): at any other
  progress the step they stand for already ran, so nothing (the worker re-arms the current progress);
* ``start`` acts only on a session that has not run yet; ``input`` only while its input is still pending;
* ``retry`` (a client's ``resume``) also retries a step that failed (the session kept its error);
* ``sweep`` (the sweeper) runs only what is due: never a failed step, which waits for the user;
* otherwise: a session waiting for input consumes the oldest pending input (or does nothing without one), a
  running session runs its next agent turn.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from runtime_core.queue import StepMessage
from runtime_core.session import SessionState, SessionStatus, UserInput
from runtime_core.workflow import Workflow
from runtime_core.workflow.spec import OrchestrationStrategy, StartupMode

_PROGRESS_DEDUP = re.compile(r"^p\d+\.\d+$")


class Decision(BaseModel):
    action: Literal["skip", "run", "cancel"]
    why: str
    user_input: UserInput | None = None


def progress(message_count: int, last_event_seq: int) -> str:
    """The dedup id of the step that follows this point of the session."""
    return f"p{message_count}.{last_event_seq}"


def fresh(state: SessionState) -> bool:
    return not state.messages and not state.engine.get("initialized")


def needs_input(state: SessionState, workflow: Workflow) -> bool:
    if state.pending_input is not None:
        return True
    # Not ``fresh``: a first step that failed leaves the session initialized, still without its first message.
    return not state.messages and workflow.orchestrator.startup_mode == StartupMode.user_first


def takes_input_mid_run(workflow: Workflow) -> bool:
    """Whether a run of this workflow can ever ask the user for a message after it started: if not, a message
    sent while it runs could never be consumed, and is refused instead of queued."""
    orchestrator = workflow.orchestrator
    return orchestrator.human_in_the_loop or orchestrator.orchestration_strategy == (
        OrchestrationStrategy.handoff_based
    )


def has_work(state: SessionState, pending_inputs: int) -> bool:
    """Something should run now without anyone asking: a turn of a running session that did not fail, or a
    pending input of a session waiting for one."""
    if state.status.is_final:
        return False
    if state.status == SessionStatus.running:
        return state.error is None
    return state.status == SessionStatus.awaiting_input and pending_inputs > 0


def decide(
    message: StepMessage,
    state: SessionState,
    message_count: int,
    pending: list[UserInput],
    cancel_requested: bool,
    workflow: Workflow,
) -> Decision:
    if state.status.is_final:
        return Decision(action="skip", why=f"session {state.status.value}")
    if cancel_requested:
        return Decision(action="cancel", why="cancel requested")
    if message.reason == "continue":
        now = progress(message_count, state.last_event_seq)
        if _PROGRESS_DEDUP.match(message.dedup_id) and message.dedup_id != now:
            return Decision(action="skip", why=f"stale: enqueued at {message.dedup_id}, now {now}")
    elif message.reason == "start" and not fresh(state):
        return Decision(action="skip", why="already started")
    elif message.reason == "input":
        input_id = message.dedup_id.removeprefix("in:")
        if input_id not in {p.input_id for p in pending}:
            return Decision(action="skip", why=f"input {input_id} already consumed")
    elif message.reason == "retry" and state.error is None and state.status != SessionStatus.running:
        if not pending:
            return Decision(action="skip", why="nothing to retry: the last step did not fail")
    elif message.reason == "sweep" and not has_work(state, len(pending)):
        return Decision(action="skip", why="nothing due")
    if needs_input(state, workflow):
        if pending:
            return Decision(action="run", why="input", user_input=pending[0])
        if state.pending_input is not None:
            return Decision(action="skip", why="waiting for input")
        # A user-first session without a first message: this step opens it and asks the user.
        return Decision(action="run", why="open")
    return Decision(action="run", why="agent turn")

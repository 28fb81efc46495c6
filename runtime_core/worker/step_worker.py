"""One delivery of a step message: claim, decide, run one engine step, commit, post, meter, chain.

Redeliveries are the normal case with SQS, so every delivery first decides from the claimed session whether
there is anything to do:

* a finished session, or one claimed by someone else: nothing;
* a cancel request: ``cancel_step``;
* ``continue`` messages carry the session's progress when they were enqueued (``dedup_id =
  "p<messages>.<last event seq>"``, which every committed step advances and a claim does not): at any other
  progress the step they stand for already ran, so nothing (but the chain is re-armed, see below);
* ``start`` acts only on a session that has not run yet; ``input`` only while its input is still pending;
* a session waiting for input consumes the oldest pending input, or does nothing without one;
* a running session runs its next agent turn.

After the commit the next step is enqueued under the new progress (running, or waiting with more inputs
queued), or the chain stops (waiting for the user, completed, cancelled, max turns, or a failed model call:
the session keeps its error and the next input or ``resume`` tries the step again). A ``retry`` (sent on
``resume``) also runs a ``running`` session's next turn: that restarts a chain whose step failed every
delivery and went to the dead-letter queue; in a live chain it only runs the turn that was due next, and the
chain's own message then finds that turn done. Re-arming a
stale ``continue`` enqueues the current progress again: SQS drops it when the live chain already sent it,
and it restarts a chain whose enqueue was lost between commit and send.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from runtime_core.events import ErrorEvent
from runtime_core.protocol import ErrorReply
from runtime_core.queue import StepMessage
from runtime_core.services import Services
from runtime_core.session import SessionState, SessionStatus, Tenant, UsageTotals, UserInput
from runtime_core.store.protocol import ClaimRefused, LeaseLost
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError
from runtime_core.workflow import Workflow
from runtime_core.workflow.spec import StartupMode

_PROGRESS_DEDUP = re.compile(r"^p\d+\.\d+$")


class Decision(BaseModel):
    action: Literal["skip", "run", "cancel"]
    why: str
    user_input: UserInput | None = None


class StepReport(BaseModel):
    """What one delivery did (logged; the tests and the benchmark read it)."""

    session_id: str
    action: Literal["skip", "run", "cancel", "lost"]
    why: str
    status: str | None = None
    events: int = 0
    posts: int = 0
    connections: int = 0
    gone: int = 0
    enqueued: str | None = None


def progress(message_count: int, last_event_seq: int) -> str:
    """The dedup id of the step that follows this point of the session."""
    return f"p{message_count}.{last_event_seq}"


def _fresh(state: SessionState) -> bool:
    return not state.messages and not state.engine.get("initialized")


def needs_input(state: SessionState, workflow: Workflow) -> bool:
    if state.pending_input is not None:
        return True
    return _fresh(state) and workflow.orchestrator.startup_mode == StartupMode.user_first


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
    elif message.reason == "start" and not _fresh(state):
        return Decision(action="skip", why="already started")
    elif message.reason == "input":
        input_id = message.dedup_id.removeprefix("in:")
        if input_id not in {p.input_id for p in pending}:
            return Decision(action="skip", why=f"input {input_id} already consumed")
    elif message.reason == "retry" and state.error is None and state.status != SessionStatus.running:
        return Decision(action="skip", why="nothing to retry: the last step did not fail")
    if needs_input(state, workflow):
        if pending:
            return Decision(action="run", why="input", user_input=pending[0])
        if state.pending_input is not None:
            return Decision(action="skip", why="waiting for input")
        # A user-first session without a first message: this step opens it and asks the user.
        return Decision(action="run", why="open")
    return Decision(action="run", why="agent turn")


class StepWorker:
    """Processes one delivery at a time against the services (the store, the queue, the posters)."""

    def __init__(
        self,
        services: Services,
        *,
        lease_seconds: int,
        callback_url: str | None,
        provider_for: Callable[[Workflow], Any],
        on_metrics: Callable[[str, str, UsageTotals, float, str | None, StepMessage], None],
        owner: str = "worker",
    ) -> None:
        self.owner = owner
        self.services = services
        self.lease_seconds = lease_seconds
        self.callback_url = callback_url
        self.provider_for = provider_for
        self.on_metrics = on_metrics

    def process(self, message: StepMessage) -> StepReport:
        store = self.services.store
        tenant = Tenant(app_id=message.app_id, user_id=message.user_id)
        claim = store.claim(tenant, message.session_id, self.owner, lease_seconds=self.lease_seconds)
        if isinstance(claim, ClaimRefused):
            # Finished, missing, or another delivery holds the lease (it will chain the next step itself).
            return StepReport(
                session_id=message.session_id, action="skip", why=f"not claimable: {claim.reason}"
            )
        state: SessionState = claim.state
        started = time.perf_counter()
        try:
            workflow = self._workflow(state)
            if workflow is None:
                result = _refusal(
                    state, "workflow_unavailable", f"workflow {state.workflow_name!r} cannot be loaded"
                )
                decision = Decision(action="run", why="workflow unavailable")
            else:
                decision = decide(
                    message,
                    state,
                    claim.message_count,
                    list(claim.pending_inputs),
                    claim.cancel_requested,
                    workflow,
                )
                if decision.action == "skip":
                    store.release(claim)
                    enqueued = self._rearm(message, state, claim.message_count, claim.pending_inputs)
                    return StepReport(
                        session_id=message.session_id,
                        action="skip",
                        why=decision.why,
                        status=state.status.value,
                        enqueued=enqueued,
                    )
                result = self._run(decision, state, workflow)
            duration_ms = (time.perf_counter() - started) * 1000
            # An input is consumed only by a step that did not fail: after a model error it stays pending
            # and the next step tries it again.
            consumed = (
                decision.user_input.input_id
                if decision.user_input is not None and result.state.error is None
                else None
            )
            committed = store.commit(
                claim,
                result.state,
                result.new_messages,
                result.events,
                result.usage,
                [consumed] if consumed else [],
            )
        except Exception as exc:
            if isinstance(exc, LeaseLost):
                runtime_logger().warning("lease lost before commit; another delivery owns the session")
                return StepReport(session_id=message.session_id, action="lost", why="lease lost")
            self._fail(claim, message, state, exc, (time.perf_counter() - started) * 1000)
            raise
        remaining = [p for p in claim.pending_inputs if p.input_id != consumed]
        report = StepReport(
            session_id=message.session_id,
            action="cancel" if decision.action == "cancel" else "run",
            why=decision.why,
            status=result.state.status.value,
            events=len(result.events),
        )
        self._post(tenant, message.session_id, result.events, report)
        error = next((e.code for e in result.events if isinstance(e, ErrorEvent)), None)
        usage = UsageTotals().add(result.usage)
        self.on_metrics(state.workflow_name, message.app_id, usage, duration_ms, error, message)
        waiting_with_input = result.state.status == SessionStatus.awaiting_input and bool(remaining)
        # A failed step (model error) stops the chain: retrying at once would fail the same way and burn
        # model calls; the user retries by sending input or resuming.
        if result.state.error is None and (result.enqueue_next or waiting_with_input):
            report.enqueued = progress(committed.message_count, committed.last_event_seq)
            self.services.queue.enqueue(_message(message, "continue", report.enqueued))
        runtime_logger().info("step done", extra=report.model_dump())
        return report

    def _workflow(self, state: SessionState) -> Workflow | None:
        from runtime_core.workflow import WorkflowValidationError

        try:
            workflow = self.services.workflow(state.workflow_name)
        except (KeyError, WorkflowValidationError) as exc:
            runtime_logger().error(
                "workflow cannot be loaded", extra={"workflow": state.workflow_name, "error": str(exc)}
            )
            return None
        if workflow.content_hash != state.workflow_hash:
            # Deployments may change a workflow under running sessions; say so, but go on with the new one.
            runtime_logger().warning(
                "workflow changed since the session started", extra={"workflow": workflow.name}
            )
        return workflow

    def _run(self, decision: Decision, state: SessionState, workflow: Workflow) -> Any:
        # The engine (and AG2 under it) is imported on the first step, never by the route handlers.
        from runtime_core.engine.step import cancel_step, run_step

        if decision.action == "cancel":
            return cancel_step(state)
        return run_step(state, workflow, self.provider_for(workflow), decision.user_input)

    def _rearm(
        self, message: StepMessage, state: SessionState, message_count: int, pending: list[UserInput]
    ) -> str | None:
        if message.reason != "continue":
            return None
        running = state.status == SessionStatus.running and state.error is None
        waiting_with_input = state.status == SessionStatus.awaiting_input and bool(pending)
        if not (running or waiting_with_input):
            return None
        dedup = progress(message_count, state.last_event_seq)
        self.services.queue.enqueue(_message(message, "continue", dedup))
        return dedup

    def _post(self, tenant: Tenant, session_id: str, events: list[Any], report: StepReport) -> None:
        """One post call per live connection of the session (the poster batches the step's events)."""
        if not events:
            return
        store = self.services.store
        for connection_id in store.live_connections(tenant, session_id):
            report.connections += 1
            endpoint = self._endpoint(connection_id)
            if endpoint is None:
                runtime_logger().error("no Management API endpoint: set MOZAIKS_WS_CALLBACK_URL")
                return
            try:
                outcome = self.services.poster_for(endpoint).post(connection_id, events)
            except PostError as exc:
                # The events are stored: the client gets them when it resumes. A post failure must not
                # fail (and so redo) a step that is already committed.
                runtime_logger().warning(
                    "post failed", extra={"connection_id": connection_id, "code": exc.code}
                )
                continue
            report.posts += outcome.posts
            if outcome.gone:
                report.gone += 1
                store.delete_connection(connection_id)

    def _endpoint(self, connection_id: str) -> str | None:
        if self.callback_url:
            return self.callback_url
        # Without a configured endpoint, the one recorded at $connect.
        record = self.services.store.get_connection(connection_id)
        return record.endpoint if record is not None else None

    def _fail(
        self, claim: Any, message: StepMessage, state: SessionState, exc: Exception, duration_ms: float
    ) -> None:
        runtime_logger().exception("step failed; the delivery will be retried")
        try:
            self.services.store.release(claim)
        except Exception:
            runtime_logger().exception("could not release the claim; its lease will expire")
        notice = ErrorReply(
            code="step_failed",
            message=f"a step failed and will be retried ({type(exc).__name__})",
            session_id=message.session_id,
        )
        # A control reply, not a session event: the failed step's seq numbers belong to its retry.
        try:
            report = StepReport(session_id=message.session_id, action="run", why="")
            self._post(
                Tenant(app_id=message.app_id, user_id=message.user_id), message.session_id, [notice], report
            )
        except Exception:
            runtime_logger().exception("could not post the failure notice")
        self.on_metrics(
            state.workflow_name, message.app_id, UsageTotals(), duration_ms, "step_failed", message
        )


def _message(origin: StepMessage, reason: str, dedup_id: str) -> StepMessage:
    return StepMessage(
        session_id=origin.session_id,
        app_id=origin.app_id,
        user_id=origin.user_id,
        reason=reason,  # type: ignore[arg-type]
        dedup_id=dedup_id,
    )


def _refusal(state: SessionState, code: str, message: str) -> Any:
    from runtime_core.engine.step import StepResult

    new_state = state.model_copy(deep=True)
    new_state.last_event_seq += 1
    new_state.error = message
    event = ErrorEvent(session_id=state.session_id, seq=new_state.last_event_seq, code=code, message=message)
    return StepResult(state=new_state, events=[event])

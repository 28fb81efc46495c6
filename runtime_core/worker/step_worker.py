"""One delivery of a step message: claim, decide, run one engine step, commit, post, chain.

Delivery guarantees, in the order a delivery meets them:

* **Claim** with a short lease that a heartbeat renews while the step runs, and the SQS receipt of the
  delivery: a process that dies loses its session within one lease, and the sweeper can release its message
  at once instead of waiting out the queue's visibility timeout.
* **Finish what a dead process left**: a claim that finds an outbox (the previous step committed but its
  process died before posting or queueing the next step) carries it out first.
* **Decide** from the session (``runtime_core.worker.decision``): redeliveries and re-arms are normal.
* **Run** within the invocation's time budget; every model call goes to the usage ledger as it returns.
* **Commit** the step with its outbox in one transaction, then post the events, queue the next step and clear
  the outbox. A crash anywhere after the commit leaves the outbox for the next delivery, a ``resume`` or the
  sweeper.
* A refused input gives its msg_id back; a run that ends with inputs still pending reports each one; a step
  that fails exactly as the previous attempt did is not stored again (the client gets an ``error`` reply).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from runtime_core import faults
from runtime_core.events import ErrorEvent
from runtime_core.protocol import ErrorReply
from runtime_core.queue import StepMessage
from runtime_core.services import Services
from runtime_core.session import SessionState, SessionStatus, Tenant, UsageRecord, UsageTotals, UserInput
from runtime_core.store.protocol import Claim, ClaimRefused, LeaseLost, NextStep, Outbox
from runtime_core.telemetry import runtime_logger, tracing
from runtime_core.worker.decision import Decision, decide, has_work, progress
from runtime_core.worker.heartbeat import Heartbeat
from runtime_core.worker.live_text import LiveText
from runtime_core.worker.observe import MetricsSink, StepClock, step_span
from runtime_core.worker.outbox import carry_out, post_to_session
from runtime_core.worker.results import inputs_outcome, refusal, repeats_failure, report_unconsumed
from runtime_core.workflow import Workflow


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
    outbox_recovered: bool = False
    heartbeats: int = 0
    # The step failed exactly as the stored attempt had: nothing was stored (the client got an error reply).
    failed_again: bool = False
    # What the metrics report (``worker.observe``): the engine's time, the error code, the step's usage.
    engine_ms: float = 0.0
    error: str | None = None
    usage: UsageTotals = UsageTotals()


class StepWorker:
    """Processes one delivery at a time against the services (the store, the queue, the posters)."""

    def __init__(
        self,
        services: Services,
        *,
        lease_seconds: float,
        callback_url: str | None,
        provider_for: Callable[[Workflow], Any],
        on_metrics: MetricsSink,
        owner: str = "worker",
        grace_seconds: float = 30.0,
        margin_seconds: float = 10.0,
    ) -> None:
        self.owner = owner
        self.services = services
        self.lease_seconds = lease_seconds
        self.callback_url = callback_url
        self.provider_for = provider_for
        self.on_metrics = on_metrics
        self.grace_seconds = grace_seconds
        # Kept back from the invocation's deadline for the commit and the posts after the model work.
        self.margin_seconds = margin_seconds
        # The delta sink of each step running (by claim token), handed to the step's post: AG-UI streams the
        # deltas opened continue there.
        self._live: dict[str, LiveText] = {}

    def process(
        self, message: StepMessage, *, receipt: str | None = None, deadline: float | None = None
    ) -> StepReport:
        """One delivery. ``deadline``: ``time.monotonic()`` at which the invocation is killed (Lambda's
        remaining time); the model work must end ``margin_seconds`` before it."""
        clock = StepClock(message)
        with step_span(message, clock) as span:
            report = self._deliver(message, receipt, deadline, clock)
            span.set_attributes({"mozaiks.step.action": report.action, "mozaiks.step.events": report.events})
        return report

    def _deliver(
        self, message: StepMessage, receipt: str | None, deadline: float | None, clock: StepClock
    ) -> StepReport:
        store = self.services.store
        tenant = Tenant(app_id=message.app_id, user_id=message.user_id)
        with tracing.span("mozaiks.claim"):
            claim = store.claim(
                tenant,
                message.session_id,
                self.owner,
                lease_seconds=self.lease_seconds,
                receipt=receipt,
                delivering=message.dedup_id,
            )
        if isinstance(claim, ClaimRefused):
            # Missing, finished, or another delivery holds the lease (it chains the next step itself).
            return StepReport(
                session_id=message.session_id, action="skip", why=f"not claimable: {claim.reason}"
            )
        report = StepReport(session_id=message.session_id, action="run", why="")
        if claim.outbox is not None and not _delivered_by(claim.outbox, message):
            # The previous step's process may have died after its commit: post what it may not have, queue its
            # next step. (Delivered by that very next step's message, the outbox is proven carried out: its
            # worker posted before it queued this message.)
            self._carry_out(tenant, claim.outbox, report)
        with Heartbeat(store, claim, self.lease_seconds) as heartbeat:
            outcome = self._step(message, claim, report, deadline, receipt)
        live = self._live.pop(claim.token, None)
        report.heartbeats = heartbeat.beats
        if outcome is None:
            return report
        result, outbox = outcome
        faults.point("after_commit")
        with tracing.span("mozaiks.post", {"mozaiks.events": len(result.events)}):
            posted = post_to_session(
                self.services,
                tenant,
                message.session_id,
                result.events,
                self.callback_url,
                live=live,
            )
        report.connections, report.posts, report.gone = posted.connections, posted.posts, posted.gone
        workflow, timings = claim.state.workflow_name, clock.timings(posted)
        self.on_metrics(
            workflow, tenant.app_id, report.usage, report.engine_ms, report.error, message, timings
        )
        faults.point("after_post")
        if outbox.next is not None:
            self.services.queue.enqueue(
                StepMessage.of(tenant, message.session_id, outbox.next.reason, outbox.next.dedup_id)
            )
            report.enqueued = outbox.next.dedup_id
        faults.point("after_enqueue")
        if outbox.next is None:
            # The chain stops here: nothing will replace this outbox soon, so clear it now. (With a next step,
            # the next commit replaces it, and the next step's message proves it done: one write saved.)
            store.finish_outbox(tenant, message.session_id, outbox.id, due_in=None)
        if result.usage:
            # The daily rollups, off the client's path; the ledger already has every call.
            store.roll_up(tenant, result.usage)
        runtime_logger().info("step done", extra=report.model_dump())
        return report

    # ---- the step, under the lease -----------------------------------------------------------------------
    def _step(
        self,
        message: StepMessage,
        claim: Claim,
        report: StepReport,
        deadline: float | None,
        receipt: str | None,
    ) -> tuple[Any, Outbox] | None:
        """Decide, run and commit; None when there was nothing to commit (the lease is released)."""
        store = self.services.store
        state: SessionState = claim.state
        pending = list(claim.pending_inputs)
        outbox_done = claim.outbox is not None
        started = time.perf_counter()
        try:
            workflow = self._workflow(state)
            if workflow is None:
                decision = Decision(action="run", why="workflow unavailable")
                result = refusal(
                    state, "workflow_unavailable", f"workflow {state.workflow_name!r} cannot be loaded"
                )
            else:
                decision = decide(
                    message, state, claim.message_count, pending, claim.cancel_requested, workflow
                )
                if decision.action == "skip":
                    report.action, report.why, report.status = "skip", decision.why, state.status.value
                    report.enqueued = self._rearm(message, state, claim.message_count, pending)
                    due = self.grace_seconds if has_work(state, len(pending)) else None
                    store.release(claim, due_in=due, outbox_done=outbox_done)
                    return None
                faults.point("before_model")
                with tracing.span("mozaiks.engine", {"mozaiks.workflow": workflow.name}):
                    result = self._run(decision, claim, workflow, deadline)
            duration_ms = (time.perf_counter() - started) * 1000
            report.action = "cancel" if decision.action == "cancel" else "run"
            report.why, report.status = decision.why, result.state.status.value
            if repeats_failure(state, result):
                self._repeated_failure(message, claim, result, report, duration_ms, outbox_done)
                return None
            consumed, refused = inputs_outcome(decision, result)
            leftover = [p for p in pending if p.input_id not in consumed + refused]
            if result.state.status.is_final and leftover:
                report_unconsumed(result, leftover)
                refused += [p.input_id for p in leftover]
            report.events = len(result.events)
            waiting_with_input = result.state.status == SessionStatus.awaiting_input and bool(
                [p for p in pending if p.input_id not in consumed + refused]
            )
            chain = result.state.error is None and (result.enqueue_next or waiting_with_input)
            next_progress = progress(
                claim.message_count + len(result.new_messages), result.state.last_event_seq
            )
            outbox = Outbox(
                id=claim.token,
                post_after=state.last_event_seq,
                post_to=result.state.last_event_seq,
                next=NextStep(reason="continue", dedup_id=next_progress) if chain else None,
                by=message.dedup_id,
                receipt=receipt,
            )
            faults.point("before_commit")
            with tracing.span("mozaiks.commit", {"mozaiks.messages": len(result.new_messages)}):
                store.commit(
                    claim,
                    result.state,
                    result.new_messages,
                    result.events,
                    result.usage,
                    consumed,
                    refused_input_ids=refused,
                    outbox=outbox,
                    usage_recorded=True,  # written call by call by the ledger callback (see _run)
                )
        except LeaseLost:
            runtime_logger().warning("lease lost before commit; another delivery owns the session")
            report.action, report.why = "lost", "lease lost"
            return None
        except Exception as exc:
            self._fail(claim, message, state, exc, (time.perf_counter() - started) * 1000)
            raise
        report.error = next((e.code for e in result.events if isinstance(e, ErrorEvent)), None)
        report.engine_ms, report.usage = duration_ms, UsageTotals().add(result.usage)
        return result, outbox

    def _run(self, decision: Decision, claim: Claim, workflow: Workflow, deadline: float | None) -> Any:
        # The engine (and AG2 under it) is imported on the first step, never by the route handlers.
        from runtime_core.data_references import prepare_session
        from runtime_core.engine.step import cancel_step, run_step

        if decision.action == "cancel":
            return cancel_step(claim.state)
        # data_reference variables: read (tenant-scoped) before the run starts, persisted by this commit.
        prepare_session(workflow, claim.state, self.services.store)
        calls = 0
        store = self.services.store

        def noted(agent: str, purpose: str) -> None:
            # Noted before the request goes out: a process killed while the provider answers leaves the call
            # in the ledger too (tokens unknown), instead of a call the provider billed and we never saw.
            nonlocal calls
            calls += 1
            store.record_usage_start(claim.tenant, claim.session_id, f"{claim.token}:{calls}", agent, purpose)

        def ledger(record: UsageRecord) -> None:
            # Completed before anything else can fail: a provider call a crash makes us repeat is billed too.
            store.record_usage(claim.tenant, record, key=f"{claim.token}:{calls}")
            faults.point("after_reply")

        model_deadline = deadline - self.margin_seconds if deadline is not None else None
        live = self._live[claim.token] = LiveText(
            self.services,
            claim.tenant,
            claim.session_id,
            self.callback_url,
            first_seq=claim.state.last_event_seq + 1,
        )
        return run_step(
            claim.state,
            workflow,
            self.provider_for(workflow),
            decision.user_input,
            deadline=model_deadline,
            on_model_call=ledger,
            on_model_request=noted,
            on_delta=live,
        )

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

    def _carry_out(self, tenant: Tenant, outbox: Outbox, report: StepReport) -> None:
        posted = carry_out(self.services, tenant, report.session_id, outbox, self.callback_url, finish=False)
        report.outbox_recovered = True
        report.posts += posted.posts

    def _rearm(
        self, message: StepMessage, state: SessionState, message_count: int, pending: list[UserInput]
    ) -> str | None:
        """A stale ``continue`` queues the current progress again: SQS drops it when the live chain already
        sent it, and it restarts a chain whose message was lost."""
        if message.reason != "continue" or not has_work(state, len(pending)):
            return None
        dedup = progress(message_count, state.last_event_seq)
        self.services.queue.enqueue(StepMessage.of(state.tenant, state.session_id, "continue", dedup))
        return dedup

    def _repeated_failure(
        self,
        message: StepMessage,
        claim: Claim,
        result: Any,
        report: StepReport,
        duration_ms: float,
        outbox_done: bool,
    ) -> None:
        """The step failed exactly as the stored attempt did: storing another error event would only grow the
        log (a reconnect loop retries on every ``resume``). Tell the live connections, store nothing."""
        self.services.store.release(claim, due_in=None, outbox_done=outbox_done)
        notice = ErrorReply(
            code="step_failed_again",
            message=f"the retried step failed again: {result.state.error}",
            session_id=claim.session_id,
        )
        post_to_session(self.services, claim.tenant, claim.session_id, [notice], self.callback_url)
        report.failed_again = True
        self.on_metrics(
            claim.state.workflow_name,
            claim.tenant.app_id,
            UsageTotals().add(result.usage),
            duration_ms,
            "step_failed_again",
            message,
            None,
        )

    def _fail(
        self, claim: Claim, message: StepMessage, state: SessionState, exc: Exception, duration_ms: float
    ) -> None:
        runtime_logger().exception("step failed; the delivery will be retried")
        try:
            # Looked at again after grace even if the queue's redelivery is lost (dead-letter queue).
            self.services.store.release(claim, due_in=self.grace_seconds)
        except Exception:
            runtime_logger().exception("could not release the claim; its lease will expire")
        notice = ErrorReply(
            code="step_failed",
            message=f"a step failed and will be retried ({type(exc).__name__})",
            session_id=message.session_id,
        )
        # A control reply, not a session event: the failed step's seq numbers belong to its retry.
        try:
            post_to_session(self.services, claim.tenant, message.session_id, [notice], self.callback_url)
        except Exception:
            runtime_logger().exception("could not post the failure notice")
        self.on_metrics(
            state.workflow_name, message.app_id, UsageTotals(), duration_ms, "step_failed", message, None
        )


def _delivered_by(outbox: Outbox, message: StepMessage) -> bool:
    """The message is the next step the outbox asked for: whoever queued it had posted the outbox's events."""
    return (
        outbox.next is not None
        and outbox.next.dedup_id == message.dedup_id
        and (outbox.next.reason == message.reason)
    )

"""Re-arming sessions that should be moving and are not: the sweeper, and a client's ``resume``.

A session's alarm (``due_at``, kept by the store) passes when nothing moved it in time: a step message was
lost (an enqueue that failed after a commit, a process that died with the in-process queue, a step parked in
the dead-letter queue), or a step's process died (its lease expired; on AWS its message also stays invisible
until the queue's visibility timeout). ``rearm`` makes such a session move again:

1. a live lease means a step is running: look again when it expires;
2. a dead step's SQS message is made visible at once (its receipt was kept with the lease);
3. an outbox left by a dead process is carried out (its events posted, its next step queued);
4. otherwise, if the session has work due, a ``sweep`` step is queued.

The sweep also closes the connections whose token expired (``runtime_core.routes.expiry``).

On AWS a scheduled function runs ``Sweeper.sweep`` every minute; ``mozaiks serve`` runs it at start and every
few seconds. A ``resume`` calls ``rearm`` for its session at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel

from runtime_core.queue import StepMessage, reset_visibility
from runtime_core.routes.expiry import close_expired_connections
from runtime_core.services import Services
from runtime_core.session import Tenant
from runtime_core.store.protocol import SessionHeader
from runtime_core.telemetry import runtime_logger, tracing
from runtime_core.worker.decision import has_work
from runtime_core.worker.outbox import carry_out

Rearmed = Literal["leased", "outbox", "queued", "idle"]


class SweepReport(BaseModel):
    due: int = 0
    leased: int = 0
    outboxes: int = 0
    queued: int = 0
    idle: int = 0
    released_messages: int = 0
    failed: int = 0
    # Connections closed because their token expired (docs/websocket-protocol.md, "Token expiry").
    closed_connections: int = 0


def rearm(
    services: Services,
    tenant: Tenant,
    header: SessionHeader,
    *,
    grace_seconds: float,
    callback_url: str | None,
    reason: Literal["sweep", "retry"] = "sweep",
) -> tuple[Rearmed, bool]:
    """Move one session that should be moving. Returns what was done, and whether a stuck SQS message was
    released."""
    store = services.store
    now = store.now()
    session_id = header.state.session_id
    if header.lease_expires_at is not None and header.lease_expires_at > now:
        store.snooze(session_id, header.lease_expires_at)
        return "leased", False
    released = False
    if header.receipt is not None and header.lease_expires_at is not None:
        # The lease expired: its delivery died. Its message would block the session's message group until
        # the visibility timeout; make it visible now (it finds the session free and does what is due).
        released = reset_visibility(services.queue, header.receipt, 0)
    if header.outbox is not None:
        if header.outbox.receipt is not None:
            # The committing delivery died before SQS deleted its message: free the session's message group.
            released = reset_visibility(services.queue, header.outbox.receipt, 0) or released
        carry_out(services, tenant, session_id, header.outbox, callback_url, grace_seconds=grace_seconds)
        if header.outbox.next is not None or not has_work(header.state, header.pending_inputs):
            return "outbox", released
    if not has_work(header.state, header.pending_inputs):
        store.snooze(session_id, None)
        return "idle", released
    # A new id per grace window: SQS drops a second re-arm inside its 5-minute window only when the first
    # is the same attempt.
    bucket = int(now.timestamp() // max(grace_seconds, 1))
    dedup = f"{reason}:{header.version}:{bucket}"
    services.queue.enqueue(StepMessage.of(tenant, session_id, reason, dedup))
    store.snooze(session_id, now + timedelta(seconds=grace_seconds))
    return "queued", released


class Sweeper:
    """Re-arms every session whose alarm has passed (``due_sessions``), a batch at a time."""

    def __init__(
        self, services: Services, *, grace_seconds: float, callback_url: str | None, batch: int = 100
    ) -> None:
        self.services = services
        self.grace_seconds = grace_seconds
        self.callback_url = callback_url
        self.batch = batch

    def sweep(self) -> SweepReport:
        store = self.services.store
        report = SweepReport()
        for due in store.due_sessions(limit=self.batch):
            report.due += 1
            try:
                # A step re-armed here links back to this span (its trace context travels in the message).
                with tracing.span("mozaiks.sweep", {"mozaiks.session_id": due.session_id}) as span:
                    header = store.header(due.tenant, due.session_id)
                    done, released = rearm(
                        self.services,
                        due.tenant,
                        header,
                        grace_seconds=self.grace_seconds,
                        callback_url=self.callback_url,
                    )
                    span.set_attribute("mozaiks.sweep.outcome", done)
            except Exception:
                # One broken session must not stop the sweep of the others; it stays due.
                report.failed += 1
                runtime_logger().exception("sweep of a session failed", extra={"session_id": due.session_id})
                continue
            report.released_messages += int(released)
            if done == "leased":
                report.leased += 1
            elif done == "outbox":
                report.outboxes += 1
            elif done == "queued":
                report.queued += 1
            else:
                report.idle += 1
        report.closed_connections = close_expired_connections(self.services, self.callback_url, self.batch)
        if report.due or report.closed_connections:
            runtime_logger().info("sweep done", extra=report.model_dump())
        return report


def on_schedule(event: dict[str, object], context: object) -> dict[str, int]:
    """The scheduled function (EventBridge Scheduler, every minute): one sweep, its counts returned."""
    from runtime_core.services import get_services

    services = get_services()
    sweeper = Sweeper(
        services,
        grace_seconds=services.store.recovery_grace_seconds,
        callback_url=services.settings.endpoint.callback_url,
    )
    try:
        return sweeper.sweep().model_dump()
    finally:
        tracing.flush()

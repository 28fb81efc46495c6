"""``$default``: one client frame in, a control reply out (posted to the caller), at most one step queued.

Every refusal is an ``error`` control reply with a stable code, never an exception, and leaves the store as it
was. The tenant comes only from the connection record written at ``$connect``. No model is called here: the
handler returns in milliseconds, far inside API Gateway's 29 s.

Frames while a run is in progress (the policy): inputs are queued, never refused and never run in parallel.
``user_message`` and ``answer`` are recorded in arrival order under their ``msg_id`` (idempotently: the same
``msg_id`` again is acknowledged with ``duplicate: true`` and queues no second step) and acknowledged at once.
The session consumes them one per step, oldest first, the next time it waits for input. SQS FIFO (message
group = session id) guarantees one step at a time per session, so a queued input never races the running
step. An ``answer`` must name the request the session is waiting for right now, and a ``user_message`` is
refused while the session waits for a UI tool's answer: those would be refused by the step anyway.
``cancel`` is recorded as a flag the next step honours (a step already calling the model finishes first).
"""

from __future__ import annotations

import difflib
import hashlib
import uuid
from typing import Any

from runtime_core.protocol import (
    Ack,
    AnswerFrame,
    CancelFrame,
    ErrorReply,
    FrameError,
    PingFrame,
    Pong,
    ResumeFrame,
    StartFrame,
    UserMessageFrame,
    parse_frame,
)
from runtime_core.queue import StepMessage
from runtime_core.routes.common import connection_id_of, endpoint_of, frame_body, post, request_id_of
from runtime_core.services import Services, get_services
from runtime_core.session import SessionState, SessionStatus, Tenant, UserInput, new_session
from runtime_core.telemetry import bind_invocation, runtime_logger, unbind_invocation
from runtime_core.transport.framing import Message

# Events replayed by one resume; a client that is further behind resumes again from the last seq it got.
MAX_REPLAY_EVENTS = 1000


class Refusal(Exception):
    """A frame refused for a reason the client can act on; becomes an ``error`` reply."""

    def __init__(self, code: str, message: str, session_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.session_id = session_id


def on_frame(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = runtime_logger()
    try:
        connection_id = connection_id_of(event)
        bind_invocation(log, connection_id=connection_id, request_id=request_id_of(context))
        services = get_services()
        endpoint = endpoint_of(services, event)
        replies = _replies(services, event, connection_id)
        post(services, endpoint, connection_id, replies)
        return {"statusCode": 200}
    except Exception:
        # Only reached when even the error reply could not be posted (no endpoint, store down while
        # forgetting a gone connection): API Gateway reports the failure to the client.
        log.exception("frame handling failed")
        return {"statusCode": 500}
    finally:
        unbind_invocation(log)


def _replies(services: Services, event: dict[str, Any], connection_id: str) -> list[Message]:
    frame = parse_frame(frame_body(event), max_bytes=services.settings.frames.max_frame_bytes)
    if isinstance(frame, FrameError):
        runtime_logger().info("frame refused", extra={"code": frame.code.value, "reason": frame.reason})
        return [frame.reply()]
    if isinstance(frame, PingFrame):
        return [Pong(msg_id=frame.msg_id)]
    msg_id = frame.msg_id
    session_id = getattr(frame, "session_id", None)
    try:
        return _route(services, frame, connection_id)
    except Refusal as refusal:
        runtime_logger().info("frame refused", extra={"code": refusal.code, "reason": refusal.message})
        return [
            ErrorReply(
                code=refusal.code,
                message=refusal.message,
                msg_id=msg_id,
                session_id=refusal.session_id or session_id,
            )
        ]
    except Exception:
        # The store or the queue failed: the client must know its input may not be saved, and retry it
        # under the same msg_id (recording is idempotent).
        runtime_logger().exception("frame failed")
        return [
            ErrorReply(
                code="unavailable",
                message="the service could not process this frame; retry it with the same msg_id",
                msg_id=msg_id,
                session_id=session_id,
            )
        ]


def _route(services: Services, frame: Any, connection_id: str) -> list[Message]:
    tenant = _tenant(services, connection_id)
    session_id = getattr(frame, "session_id", None)
    runtime_logger().append_keys(app_id=tenant.app_id, **({"session_id": session_id} if session_id else {}))
    if isinstance(frame, StartFrame):
        return _start(services, tenant, connection_id, frame)
    if isinstance(frame, UserMessageFrame | AnswerFrame):
        return _input(services, tenant, connection_id, frame)
    if isinstance(frame, ResumeFrame):
        return _resume(services, tenant, connection_id, frame)
    if isinstance(frame, CancelFrame):
        return _cancel(services, tenant, connection_id, frame)
    raise Refusal("unsupported_frame", f"frame type {frame.type!r} is not handled")


def _tenant(services: Services, connection_id: str) -> Tenant:
    record = services.store.get_connection(connection_id)
    if record is None:
        raise Refusal("unknown_connection", "this connection is not registered (or expired): reconnect")
    return record.tenant


def _session(services: Services, tenant: Tenant, session_id: str) -> SessionState:
    from runtime_core.store.protocol import SessionNotFound

    # The store scopes the lookup by tenant: another tenant's session is exactly as missing as a
    # nonexistent one, so ids cannot be probed.
    try:
        return services.store.get_session(tenant, session_id)
    except SessionNotFound:
        raise Refusal("session_not_found", f"no session {session_id!r}", session_id) from None


def _step(tenant: Tenant, session_id: str, reason: str, dedup_id: str) -> StepMessage:
    return StepMessage(
        session_id=session_id,
        app_id=tenant.app_id,
        user_id=tenant.user_id,
        reason=reason,  # type: ignore[arg-type]
        dedup_id=dedup_id,
    )


def session_id_for(tenant: Tenant, msg_id: str | None) -> str:
    """A start frame's session id: derived from its msg_id, so a retried start finds the same session."""
    if msg_id is None:
        return f"s-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{tenant.app_id}\0{tenant.user_id}\0{msg_id}".encode()).hexdigest()
    return f"s-{digest[:32]}"


def _start(services: Services, tenant: Tenant, connection_id: str, frame: StartFrame) -> list[Message]:
    from runtime_core.store.protocol import SessionExists
    from runtime_core.workflow import WorkflowValidationError

    try:
        workflow = services.workflow(frame.workflow)
    except KeyError:
        close = difflib.get_close_matches(frame.workflow, services.workflow_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise Refusal("unknown_workflow", f"no workflow {frame.workflow!r}{hint}") from None
    except WorkflowValidationError as exc:
        first = "; ".join(str(e) for e in exc.errors[:3])
        more = f" (and {len(exc.errors) - 3} more)" if len(exc.errors) > 3 else ""
        raise Refusal("invalid_workflow", f"workflow {frame.workflow!r} is invalid: {first}{more}") from None

    session_id = session_id_for(tenant, frame.msg_id)
    state = new_session(workflow, session_id, tenant.app_id, tenant.user_id)
    store = services.store
    try:
        store.create_session(state)
        created = True
    except SessionExists:
        created = False
    runtime_logger().append_keys(session_id=session_id)
    store.subscribe(tenant, connection_id, session_id)
    if frame.message and frame.message.strip():
        # Recorded for a retried start too (idempotently): the first attempt may have died before this.
        first = UserInput(input_id=frame.msg_id or f"{session_id}:first", kind="message", text=frame.message)
        store.record_input(tenant, session_id, first)
    # Queued again for a retried start: SQS drops it within its 5-minute window, and the worker ignores a
    # start of a session that already ran; a start lost between create and enqueue is recovered this way.
    services.queue.enqueue(_step(tenant, session_id, "start", "start"))
    return [Ack(msg_id=frame.msg_id, session_id=session_id, duplicate=not created)]


def _input(
    services: Services, tenant: Tenant, connection_id: str, frame: UserMessageFrame | AnswerFrame
) -> list[Message]:
    state = _session(services, tenant, frame.session_id)
    if state.status.is_final:
        raise Refusal("session_closed", f"the session is {state.status.value}", frame.session_id)
    pending = state.pending_input if state.status == SessionStatus.awaiting_input else None
    if isinstance(frame, AnswerFrame):
        if pending is None or pending.request_id != frame.request_id:
            waiting = f" (it waits for {pending.request_id!r})" if pending is not None else ""
            raise Refusal(
                "no_pending_request",
                f"the session is not waiting for request {frame.request_id!r}{waiting}",
                frame.session_id,
            )
        user_input = UserInput(
            input_id=frame.msg_id,
            kind="answer",
            text=frame.text or "",
            request_id=frame.request_id,
            data=frame.data,
        )
    else:
        if pending is not None and pending.kind == "ui_tool":
            raise Refusal(
                "answer_expected",
                f"the session waits for an answer to request {pending.request_id!r} ({pending.tool_name})",
                frame.session_id,
            )
        user_input = UserInput(input_id=frame.msg_id, kind="message", text=frame.text)
    store = services.store
    store.subscribe(tenant, connection_id, frame.session_id)
    recorded = store.record_input(tenant, frame.session_id, user_input)
    # A duplicate still pending is queued again under the same dedup id: SQS drops it if the first is still
    # queued, and the worker ignores an input already consumed; an enqueue lost after recording is recovered.
    if recorded.new or recorded.status != "completed":
        services.queue.enqueue(_step(tenant, frame.session_id, "input", f"in:{frame.msg_id}"))
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id, duplicate=not recorded.new)]


def _resume(services: Services, tenant: Tenant, connection_id: str, frame: ResumeFrame) -> list[Message]:
    state = _session(services, tenant, frame.session_id)
    store = services.store
    # Subscribe before reading: an event committed in between is then both replayed and posted live, never
    # lost (clients drop a seq they already have).
    store.subscribe(tenant, connection_id, frame.session_id)
    events = store.events_after(tenant, frame.session_id, frame.after_seq, limit=MAX_REPLAY_EVENTS)
    if state.error is not None or state.status == SessionStatus.running:
        # Resuming is how a client restarts a stopped chain: after a failed model call (the session keeps its
        # error), or after a step that failed every delivery and went to the dead-letter queue. While the
        # chain is alive this is harmless: it runs at most the turn that was due next, never a turn twice.
        services.queue.enqueue(_step(tenant, frame.session_id, "retry", f"retry:{state.last_event_seq}"))
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id), *events]


def _cancel(services: Services, tenant: Tenant, connection_id: str, frame: CancelFrame) -> list[Message]:
    state = _session(services, tenant, frame.session_id)
    if state.status.is_final:
        raise Refusal("session_closed", f"the session is {state.status.value}", frame.session_id)
    store = services.store
    store.request_cancel(tenant, frame.session_id)
    store.subscribe(tenant, connection_id, frame.session_id)
    dedup = f"cancel:{frame.msg_id}" if frame.msg_id else f"cancel:{uuid.uuid4().hex}"
    services.queue.enqueue(_step(tenant, frame.session_id, "cancel", dedup))
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id)]

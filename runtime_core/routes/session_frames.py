"""The frames that act on a session: ``start``, ``user_message`` / ``answer``, ``resume``, ``cancel``.

**Idempotency** (the contract in docs/websocket-protocol.md). A ``start`` is keyed by (tenant, ``msg_id``),
an input by (tenant, session, ``msg_id``). The key is looked up before anything else, whatever state the
session is in now: the same key with the same payload is a duplicate (``ack`` with ``duplicate: true`` and
the original outcome: the original session id for a ``start``), the same key with another payload is refused
with ``msg_id_reused``. A refused frame does not use its key up (nothing is recorded), nor does an input
that its step refused (its record is marked refused). Keys of consumed inputs answer for
``idempotency_ttl_seconds`` (a week), pending ones until consumed; a ``start``'s key lives as long as its
session.

**Input while a run is going.** A message sent while the session runs is queued and consumed, in order, at the
session's next user turn. A workflow that never asks the user anything after it started refuses it
(``input_not_accepted``) instead: it could never be consumed. If a run ends with inputs still queued, its last
step reports each (``error`` event ``input_not_consumed``). Nothing acknowledged is ever dropped silently.

**Liveness.** A duplicate of an input still pending queues its step again (SQS drops it if the first is still
queued); a ``resume`` of a session whose step died or whose chain was lost re-arms it at once.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import uuid
from typing import Any

from runtime_core.protocol import (
    Ack,
    AnswerFrame,
    CancelFrame,
    ReplayEnd,
    ResumeFrame,
    StartFrame,
    UserMessageFrame,
)
from runtime_core.queue import StepMessage
from runtime_core.routes.refusal import Refusal
from runtime_core.services import Services
from runtime_core.session import SessionState, SessionStatus, Tenant, UserInput, new_session
from runtime_core.store.protocol import RecordedInput, SessionHeader, SessionNotFound, TooManyPending
from runtime_core.telemetry import runtime_logger
from runtime_core.transport.framing import Message

# Events replayed by one resume; a client that is further behind resumes again from the last seq it got.
MAX_REPLAY_EVENTS = 1000


def payload_hash(frame: Any) -> str:
    """What a frame asks for, without its key: two sends of the same frame hash the same."""
    body = frame.model_dump(mode="json", exclude={"msg_id", "session_id"}, exclude_none=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def session_id_for(tenant: Tenant, msg_id: str | None) -> str:
    """A start frame's session id: derived from its msg_id, so a retried start finds the same session."""
    if msg_id is None:
        return f"s-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{tenant.app_id}\0{tenant.user_id}\0{msg_id}".encode()).hexdigest()
    return f"s-{digest[:32]}"


def _header(services: Services, tenant: Tenant, session_id: str) -> SessionHeader:
    # The store scopes the lookup by tenant: another tenant's session is exactly as missing as a
    # nonexistent one, so ids cannot be probed.
    try:
        return services.store.header(tenant, session_id)
    except SessionNotFound:
        raise Refusal("session_not_found", f"no session {session_id!r}", session_id) from None


def _reused(msg_id: str | None, session_id: str | None, what: str) -> Refusal:
    return Refusal(
        "msg_id_reused",
        f"msg_id {msg_id!r} was already used for {what}; use a new msg_id for a different frame",
        session_id,
    )


# ---- start -----------------------------------------------------------------------------------------------
def start(services: Services, tenant: Tenant, connection_id: str, frame: StartFrame) -> list[Message]:
    from runtime_core.store.protocol import SessionExists
    from runtime_core.workflow import WorkflowValidationError

    digest = payload_hash(frame)
    session_id = session_id_for(tenant, frame.msg_id)
    if frame.msg_id is not None:
        duplicate = _duplicate_start(services, tenant, connection_id, frame, session_id, digest)
        if duplicate is not None:
            return duplicate
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

    state = new_session(workflow, session_id, tenant.app_id, tenant.user_id)
    store = services.store
    try:
        store.create_session(state, start_hash=digest)
    except SessionExists:
        # A concurrent send of the same start won the race (or another payload did: the hash tells).
        duplicate = _duplicate_start(services, tenant, connection_id, frame, session_id, digest)
        if duplicate is not None:
            return duplicate
    runtime_logger().append_keys(session_id=session_id)
    _open(services, tenant, connection_id, frame, session_id)
    return [Ack(msg_id=frame.msg_id, session_id=session_id)]


def _duplicate_start(
    services: Services,
    tenant: Tenant,
    connection_id: str,
    frame: StartFrame,
    session_id: str,
    digest: str,
) -> list[Message] | None:
    try:
        header = services.store.header(tenant, session_id)
    except SessionNotFound:
        return None
    if header.start_hash is not None and header.start_hash != digest:
        raise _reused(frame.msg_id, None, f"starting session {session_id!r} ({header.state.workflow_name})")
    # The first attempt may have died between creating the session and queueing its start: do both again
    # (idempotently) while the session has not run yet. Either way the sender gets what a resume from 0
    # gives: its first attempt's reply (and the events posted since) may never have reached it.
    if not header.state.messages and not header.state.engine.get("initialized"):
        _open(services, tenant, connection_id, frame, session_id)
    else:
        _restart(services, tenant, header)
    replay = _replay(services, tenant, connection_id, session_id, 0, frame.msg_id)
    return [Ack(msg_id=frame.msg_id, session_id=session_id, duplicate=True), *replay]


def _open(services: Services, tenant: Tenant, connection_id: str, frame: StartFrame, session_id: str) -> None:
    store = services.store
    store.subscribe(tenant, connection_id, session_id)
    if frame.message and frame.message.strip():
        first = UserInput(input_id=frame.msg_id or f"{session_id}:first", kind="message", text=frame.message)
        store.record_input(tenant, session_id, first, payload_hash(frame))
    # Queued again for a retried start: SQS drops it within its 5-minute window, and the worker ignores a
    # start of a session that already ran.
    services.queue.enqueue(StepMessage.of(tenant, session_id, "start", "start"))


# ---- inputs ----------------------------------------------------------------------------------------------
def user_input(
    services: Services, tenant: Tenant, connection_id: str, frame: UserMessageFrame | AnswerFrame
) -> list[Message]:
    store = services.store
    digest = payload_hash(frame)
    # The key first, whatever the session's state is now: a resent frame whose input was already consumed
    # is a duplicate, not an error about the session's current state.
    existing = store.find_input(tenant, frame.session_id, frame.msg_id)
    if existing is not None and existing.status != "refused":
        return _duplicate_input(services, tenant, connection_id, frame, existing, digest)
    header = _header(services, tenant, frame.session_id)
    value = _checked_input(services, header.state, frame)
    store.subscribe(tenant, connection_id, frame.session_id)
    try:
        recorded = store.record_input(tenant, frame.session_id, value, digest)
    except TooManyPending as exc:
        raise Refusal(
            "too_many_inputs",
            f"{exc.limit} inputs are waiting for this session already: wait for it to take them",
            frame.session_id,
        ) from None
    if not recorded.new:
        return _duplicate_input(services, tenant, connection_id, frame, recorded, digest)
    services.queue.enqueue(StepMessage.of(tenant, frame.session_id, "input", f"in:{frame.msg_id}"))
    if _left_behind(services, header):
        # The last step's process died after its commit: its SQS message would hold this input's step back
        # until the sweeper comes. Finish what it left now.
        _restart(services, tenant, header)
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id)]


def _left_behind(services: Services, header: SessionHeader) -> bool:
    """An outbox no longer fresh was left by a process that died: a live worker carries its own out in
    milliseconds (and the chain's next step replaces it)."""
    if header.outbox is None:
        return False
    age = (services.store.now() - header.state.updated_at).total_seconds()
    return age > services.store.outbox_fresh_seconds


def _duplicate_input(
    services: Services,
    tenant: Tenant,
    connection_id: str,
    frame: UserMessageFrame | AnswerFrame,
    record: RecordedInput,
    digest: str,
) -> list[Message]:
    if record.payload_hash is not None and record.payload_hash != digest:
        raise _reused(frame.msg_id, frame.session_id, "another input of this session")
    services.store.subscribe(tenant, connection_id, frame.session_id)
    if record.status == "in_progress":
        # Still pending: queue its step again. SQS drops it if the first is still queued; it recovers an
        # enqueue that was lost after the input was recorded.
        services.queue.enqueue(StepMessage.of(tenant, frame.session_id, "input", f"in:{frame.msg_id}"))
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id, duplicate=True)]


def _checked_input(
    services: Services, state: SessionState, frame: UserMessageFrame | AnswerFrame
) -> UserInput:
    """The input to record, or a refusal the client can act on (nothing is recorded then)."""
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
        if pending.kind == "user_turn":
            raise Refusal(
                "message_expected",
                f"request {pending.request_id!r} is a user turn: send a user_message, not an answer",
                frame.session_id,
            )
        return UserInput(
            input_id=frame.msg_id,
            kind="answer",
            text=frame.text or "",
            request_id=frame.request_id,
            data=frame.data,
        )
    if pending is not None and pending.kind == "ui_tool":
        raise Refusal(
            "answer_expected",
            f"the session waits for an answer to request {pending.request_id!r} ({pending.tool_name})",
            frame.session_id,
        )
    if pending is None and state.status == SessionStatus.running and not _takes_input(services, state):
        raise Refusal(
            "input_not_accepted",
            f"workflow {state.workflow_name!r} runs without user input once started: this message could "
            "never be used",
            frame.session_id,
        )
    return UserInput(input_id=frame.msg_id, kind="message", text=frame.text)


def _takes_input(services: Services, state: SessionState) -> bool:
    from runtime_core.worker.decision import fresh, takes_input_mid_run
    from runtime_core.workflow import WorkflowValidationError

    try:
        workflow = services.workflow(state.workflow_name)
    except (KeyError, WorkflowValidationError):
        return True  # the step reports the broken workflow; do not guess here
    return fresh(state) or takes_input_mid_run(workflow)


# ---- resume and cancel -----------------------------------------------------------------------------------
def resume(services: Services, tenant: Tenant, connection_id: str, frame: ResumeFrame) -> list[Message]:
    header = _header(services, tenant, frame.session_id)
    replay = _replay(services, tenant, connection_id, frame.session_id, frame.after_seq, frame.msg_id)
    _restart(services, tenant, header)
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id), *replay]


def _replay(
    services: Services,
    tenant: Tenant,
    connection_id: str,
    session_id: str,
    after_seq: int,
    msg_id: str | None,
) -> list[Message]:
    """The stored events after ``after_seq`` (one page), closed by ``replay_end``; the connection follows the
    session live from now on.

    Subscribe before reading: an event committed in between is then both replayed and posted live, never
    lost. The live post may even arrive first (another process posts it): a client holds events past a gap
    until ``replay_end`` and drops a seq it already has (docs/websocket-protocol.md, "Replay and live")."""
    store = services.store
    store.subscribe(tenant, connection_id, session_id)
    events = store.events_after(tenant, session_id, after_seq, limit=MAX_REPLAY_EVENTS + 1)
    more = len(events) > MAX_REPLAY_EVENTS
    events = events[:MAX_REPLAY_EVENTS]
    last_seq = events[-1].seq if events else after_seq
    end = ReplayEnd(msg_id=msg_id, session_id=session_id, after_seq=after_seq, last_seq=last_seq, more=more)
    return [*events, end]


def _restart(services: Services, tenant: Tenant, header: SessionHeader) -> None:
    """Resuming is how a client restarts a session that stopped: a step that failed (the session kept its
    error: retried once per attempt), or a session with work to do and no step running (its step died or was
    dead-lettered, its chain or its input's step was lost): re-armed at once. In a healthy chain between two
    steps the re-arm only runs the step that was due next; the chain's own message then finds it done."""
    from runtime_core.worker.decision import has_work
    from runtime_core.worker.sweeper import rearm

    store = services.store
    now = store.now()
    if header.lease_expires_at is not None and header.lease_expires_at > now:
        return  # a step is running: it chains the next one itself
    state = header.state
    if state.error is not None and not state.status.is_final:
        services.queue.enqueue(StepMessage.of(tenant, state.session_id, "retry", f"retry:{header.version}"))
        return
    if header.outbox is not None and not _left_behind(services, header):
        return  # a chain is in flight: its worker queued the next step moments ago
    if header.outbox is not None or has_work(state, header.pending_inputs):
        rearm(
            services,
            tenant,
            header,
            grace_seconds=store.recovery_grace_seconds,
            callback_url=services.settings.endpoint.callback_url,
            reason="retry",
        )


def cancel(services: Services, tenant: Tenant, connection_id: str, frame: CancelFrame) -> list[Message]:
    state = _header(services, tenant, frame.session_id).state
    if state.status.is_final:
        raise Refusal("session_closed", f"the session is {state.status.value}", frame.session_id)
    store = services.store
    store.request_cancel(tenant, frame.session_id)
    store.subscribe(tenant, connection_id, frame.session_id)
    dedup = f"cancel:{frame.msg_id}" if frame.msg_id else f"cancel:{uuid.uuid4().hex}"
    services.queue.enqueue(StepMessage.of(tenant, frame.session_id, "cancel", dedup))
    return [Ack(msg_id=frame.msg_id, session_id=frame.session_id)]

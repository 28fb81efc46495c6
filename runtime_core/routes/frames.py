"""``$default``: one client frame in, a control reply out (posted to the caller), at most one step queued.

Every refusal is an ``error`` control reply with a stable code, never an exception, and leaves the store as it
was. The tenant comes only from the connection record written at ``$connect``. No model is called here: the
handler returns in milliseconds, far inside API Gateway's 29 s. The frames that act on a session, and the
idempotency contract they keep, are ``runtime_core.routes.session_frames``. ``cancel`` is recorded as a flag
the next step honours (a step already calling the model finishes first).
"""

from __future__ import annotations

import time
from typing import Any

from runtime_core.protocol import (
    AnswerFrame,
    CancelFrame,
    ErrorReply,
    FrameError,
    PingFrame,
    Pong,
    ReplayEnd,
    ResumeFrame,
    StartFrame,
    UserMessageFrame,
    parse_frame,
)
from runtime_core.queue.message import answering_frame
from runtime_core.routes import session_frames
from runtime_core.routes.common import connection_id_of, endpoint_of, frame_body, post, request_id_of
from runtime_core.routes.expiry import close_expired
from runtime_core.routes.refusal import Refusal
from runtime_core.services import Services, get_services
from runtime_core.session import Tenant
from runtime_core.store.protocol import Connection
from runtime_core.telemetry import bind_invocation, runtime_logger, tracing, unbind_invocation
from runtime_core.transport.framing import Message


def on_frame(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = runtime_logger()
    try:
        connection_id = connection_id_of(event)
        bind_invocation(log, connection_id=connection_id, request_id=request_id_of(context))
        services = get_services()
        endpoint = endpoint_of(services, event)
        # Steps this frame queues carry its arrival time (FrameToFirstEvent) and this span's trace context.
        with answering_frame(_received_at(event)), tracing.span("mozaiks.frame", kind="server") as span:
            replies = _replies(services, event, connection_id)
            if replies:
                post(services, endpoint, connection_id, _encoded(services, connection_id, replies))
            span.set_attribute("mozaiks.replies", len(replies))
        return {"statusCode": 200}
    except Exception:
        # Only reached when even the error reply could not be posted (no endpoint, store down while
        # forgetting a gone connection): API Gateway reports the failure to the client.
        log.exception("frame handling failed")
        return {"statusCode": 500}
    finally:
        unbind_invocation(log)
        tracing.flush()


def _received_at(event: dict[str, Any]) -> float:
    """When API Gateway received the frame (epoch seconds), else now: a value far from now (a replayed
    sample event, a skewed clock) would only distort the metric."""
    now = time.time()
    epoch_ms = (event.get("requestContext") or {}).get("requestTimeEpoch")
    if isinstance(epoch_ms, int | float) and now - 300 <= epoch_ms / 1000 <= now + 5:
        return float(epoch_ms) / 1000
    return now


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
    except TokenExpired as expired:
        # Not handled: the client is told why, and the socket is closed (docs: "Token expiry").
        close_expired(services, expired.connection, endpoint_of(services, event))
        return []
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
    tracing.annotate({"mozaiks.frame.type": frame.type, "mozaiks.session_id": session_id})
    runtime_logger().append_keys(app_id=tenant.app_id, **({"session_id": session_id} if session_id else {}))
    if isinstance(frame, StartFrame):
        return session_frames.start(services, tenant, connection_id, frame)
    if isinstance(frame, UserMessageFrame | AnswerFrame):
        return session_frames.user_input(services, tenant, connection_id, frame)
    if isinstance(frame, ResumeFrame):
        return session_frames.resume(services, tenant, connection_id, frame)
    if isinstance(frame, CancelFrame):
        return session_frames.cancel(services, tenant, connection_id, frame)
    raise Refusal("unsupported_frame", f"frame type {frame.type!r} is not handled")


class TokenExpired(Exception):
    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.connection_id)
        self.connection = connection


def _encoded(services: Services, connection_id: str, replies: list[Message]) -> list[Message]:
    """A replay (``resume``, a duplicate ``start``) to an AG-UI connection: its events as AG-UI events."""
    if not any(isinstance(r, ReplayEnd) for r in replies):
        return replies
    record = services.store.get_connection(connection_id)
    if record is None or record.encoding != "agui":
        return replies
    from runtime_core.agui.delivery import encode_replies

    return encode_replies(services, record.tenant, replies)


def _tenant(services: Services, connection_id: str) -> Tenant:
    record = services.store.get_connection(connection_id)
    if record is None:
        raise Refusal("unknown_connection", "this connection is not registered (or expired): reconnect")
    if record.token_expired(services.store.now()):
        raise TokenExpired(record)
    return record.tenant

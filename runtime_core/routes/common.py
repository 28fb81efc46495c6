"""What the WebSocket routes share: reading API Gateway events, and posting control replies.

Nothing here imports boto3, pymongo or AG2 at module level: the services build their clients on first use.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from runtime_core.services import Services
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError, PostOutcome, callback_url_from_event
from runtime_core.transport.framing import Message


def request_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    context = event.get("requestContext")
    return context if isinstance(context, Mapping) else {}


def connection_id_of(event: Mapping[str, Any]) -> str:
    connection_id = request_context(event).get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        raise ValueError("the event has no requestContext.connectionId")
    return connection_id


def endpoint_of(services: Services, event: Mapping[str, Any]) -> str:
    """The Management API endpoint of the caller's connection.

    MOZAIKS_WS_CALLBACK_URL wins: behind a custom domain, the event's domainName/stage is not the endpoint.
    """
    configured = services.settings.endpoint.callback_url
    return configured or callback_url_from_event(event)


def request_id_of(context: Any) -> str | None:
    value = getattr(context, "aws_request_id", None)
    return value if isinstance(value, str) else None


def frame_body(event: Mapping[str, Any]) -> str | bytes:
    """The frame as the client sent it: API Gateway base64-encodes binary frames and flags them."""
    body = event.get("body")
    if body is None:
        return ""
    if event.get("isBase64Encoded") and isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return body.encode("utf-8", "surrogatepass")
    return body if isinstance(body, str | bytes) else str(body)


def post(
    services: Services, endpoint: str, connection_id: str, messages: Sequence[Message]
) -> PostOutcome | None:
    """Post to one connection; a client that left (410) loses its connection record.

    Returns None when the post failed for another reason (throttled, forbidden): it is logged, never raised,
    because a reply that cannot be delivered must not turn into a failed invocation (API Gateway would
    report an error to a client we cannot reach anyway).
    """
    try:
        outcome = services.poster_for(endpoint).post(connection_id, messages)
    except PostError as exc:
        runtime_logger().warning("post failed", extra={"code": exc.code, "status": exc.status})
        return None
    if outcome.gone:
        runtime_logger().info("connection gone; forgetting it")
        services.store.delete_connection(connection_id)
    return outcome

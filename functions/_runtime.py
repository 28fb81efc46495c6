"""What every handler shares: the logger, settings read once per container, posting control replies.

Nothing here imports boto3, pymongo or AG2 at module level: the services build their clients on first use.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from runtime_core.config import FrameSettings, JwtSettings
from runtime_core.services import get_services
from runtime_core.telemetry import build_logger
from runtime_core.transport import PostError, PostOutcome, callback_url_from_event
from runtime_core.transport.framing import Message

if TYPE_CHECKING:
    from runtime_core.auth import TokenVerifier

CALLBACK_URL_VARIABLE = "MOZAIKS_WS_CALLBACK_URL"


@cache
def logger() -> Logger:
    return build_logger()


@cache
def frame_settings() -> FrameSettings:
    return FrameSettings.from_env()


@cache
def verifier() -> TokenVerifier:
    # Built once per container: it holds the parsed key or the JWKS cache.
    from runtime_core.auth import TokenVerifier

    return TokenVerifier(JwtSettings.from_env())


def reset_caches() -> None:
    """Forget settings read from the environment (tests change it between cases)."""
    for cached in (logger, frame_settings, verifier):
        cached.cache_clear()


def request_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    context = event.get("requestContext")
    return context if isinstance(context, Mapping) else {}


def connection_id_of(event: Mapping[str, Any]) -> str:
    connection_id = request_context(event).get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        raise ValueError("the event has no requestContext.connectionId")
    return connection_id


def endpoint_of(event: Mapping[str, Any]) -> str:
    """The Management API endpoint of the caller's connection.

    MOZAIKS_WS_CALLBACK_URL wins: behind a custom domain, the event's domainName/stage is not the endpoint.
    """
    configured = os.environ.get(CALLBACK_URL_VARIABLE, "").strip()
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


def post(endpoint: str, connection_id: str, messages: Sequence[Message]) -> PostOutcome | None:
    """Post to one connection; a client that left (410) loses its connection record.

    Returns None when the post failed for another reason (throttled, forbidden): it is logged, never raised,
    because a reply that cannot be delivered must not turn into a failed invocation (API Gateway would
    report an error to a client we cannot reach anyway).
    """
    services = get_services()
    try:
        outcome = services.poster_for(endpoint).post(connection_id, messages)
    except PostError as exc:
        logger().warning("post failed", extra={"code": exc.code, "status": exc.status})
        return None
    if outcome.gone:
        logger().info("connection gone; forgetting it")
        services.store.delete_connection(connection_id)
    return outcome

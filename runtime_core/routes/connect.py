"""``$connect``: verify the JWT, record the connection, accept the socket.

The token comes from ``?token=`` or the ``Sec-WebSocket-Protocol`` offer ``mozaiks.jwt, <jwt>`` (browsers
cannot set headers); the response echoes ``mozaiks.jwt`` in the second case or the browser drops the socket.
A refused token gets 401/403 (503 when keys cannot be fetched) and nothing is stored. ``?encoding=agui``
is recorded with the connection: its events are then posted as AG-UI events (``runtime_core.agui``).
Nothing is ever posted from here: the connection is not open until this handler returns.
"""

from __future__ import annotations

from typing import Any, Literal

from runtime_core.auth import AuthError, connect_response, extract_token, refusal_response
from runtime_core.routes.common import connection_id_of, endpoint_of, request_id_of
from runtime_core.services import get_services
from runtime_core.telemetry import bind_invocation, runtime_logger, unbind_invocation

ENCODING_PARAMETER = "encoding"


def encoding_of(event: dict[str, Any]) -> Literal["mozaiks", "agui"]:
    """``?encoding=agui``: session events are posted to this connection as AG-UI events (any other value, or
    none, this runtime's own)."""
    query = event.get("queryStringParameters") or {}
    return "agui" if query.get(ENCODING_PARAMETER) == "agui" else "mozaiks"


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = runtime_logger()
    services = get_services()
    try:
        connection_id = connection_id_of(event)
        bind_invocation(log, connection_id=connection_id, request_id=request_id_of(context))
        try:
            token = extract_token(event)
            tenant, token_expires_at = services.verifier.verify_until(token.token)
        except AuthError as err:
            log.info("connection refused", extra={"reason": str(err.reason), "status": err.status})
            return refusal_response(err)
        log.append_keys(app_id=tenant.app_id)
        # Connection records expire on their own: $disconnect is best effort and may never arrive. The
        # endpoint is kept for a worker that has no MOZAIKS_WS_CALLBACK_URL.
        services.store.put_connection(
            connection_id,
            tenant,
            ttl_seconds=services.settings.frames.connection_ttl_seconds,
            endpoint=endpoint_of(services, event),
            token_expires_at=token_expires_at,
            encoding=encoding_of(event),
        )
        log.info("connected", extra={"token_source": token.source})
        return connect_response(token.subprotocol)
    finally:
        unbind_invocation(log)

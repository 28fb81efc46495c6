"""Closing a connection whose token expired: a ``closing`` message first, then the socket, then the record.

A socket outlives nothing it was not allowed to: ``$connect`` records when the token stops being accepted
(``token_expires_at``). From then on the connection gets no live events (``live_connections`` leaves it out)
and is closed by whoever meets it first:

* ``$default``: a frame arriving after expiry is not handled; the connection is closed at once;
* the sweeper (every minute on AWS): closes every expired connection (``expired_connections``);
* ``mozaiks serve``: a timer per socket, at the moment of expiry.

The message comes first because API Gateway's DELETE @connections takes no close code or reason: a browser
would see a bare close. Locally the socket is also closed with code ``TOKEN_EXPIRED_CLOSE_CODE``.
"""

from __future__ import annotations

from runtime_core.protocol import Closing
from runtime_core.services import Services
from runtime_core.store.protocol import Connection
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError

TOKEN_EXPIRED = "token_expired"
# The local server's close code (4000-4999 are the application's); 4401 echoes HTTP 401.
TOKEN_EXPIRED_CLOSE_CODE = 4401


def closing_message() -> Closing:
    return Closing(
        code=TOKEN_EXPIRED,
        message="the token of this connection expired: reconnect with a new token, then resume",
    )


def close_expired(services: Services, connection: Connection, endpoint: str | None) -> bool:
    """Tell the client, close its socket, forget the connection. True when a socket was closed."""
    store = services.store
    endpoint = endpoint or connection.endpoint
    closed = False
    if endpoint is None:
        runtime_logger().error(
            "no Management API endpoint to close a connection: set MOZAIKS_WS_CALLBACK_URL"
        )
    else:
        poster = services.poster_for(endpoint)
        try:
            outcome = poster.post(connection.connection_id, [closing_message()])
            if not outcome.gone:
                closed = poster.close(connection.connection_id, TOKEN_EXPIRED)
        except PostError as exc:
            # The record goes anyway: the connection gets nothing more, and API Gateway's own limits (10
            # minutes idle, 2 hours in all) close what we could not.
            runtime_logger().warning("closing an expired connection failed", extra={"code": exc.code})
    store.delete_connection(connection.connection_id)
    runtime_logger().info("token expired; connection closed", extra={"closed": closed})
    return closed


def close_expired_connections(services: Services, callback_url: str | None, limit: int = 100) -> int:
    """The sweeper's part: close every connection whose token expired. Returns how many were closed."""
    count = 0
    for connection in services.store.expired_connections(limit=limit):
        try:
            count += int(close_expired(services, connection, callback_url))
        except Exception:
            runtime_logger().exception("closing an expired connection failed")
    return count

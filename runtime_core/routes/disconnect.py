"""``$disconnect``: forget the connection. Its sessions live on; a client that comes back resumes them.

Best effort on API Gateway's side (it may never be called): connection records also expire by TTL, and a
410 from the Management API deletes them too.
"""

from __future__ import annotations

from typing import Any

from runtime_core.routes.common import connection_id_of, request_id_of
from runtime_core.services import get_services
from runtime_core.telemetry import bind_invocation, runtime_logger, unbind_invocation


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = runtime_logger()
    try:
        connection_id = connection_id_of(event)
        bind_invocation(log, connection_id=connection_id, request_id=request_id_of(context))
        get_services().store.delete_connection(connection_id)
        log.info(
            "disconnected", extra={"status": event.get("requestContext", {}).get("disconnectStatusCode")}
        )
        return {"statusCode": 200}
    finally:
        unbind_invocation(log)

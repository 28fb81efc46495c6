"""WebSocket ``$connect``: verify the JWT, record the connection (``runtime_core.routes.connect``)."""

from typing import Any

from runtime_core.routes.connect import on_connect
from runtime_core.wiring import Role, cold_start

cold_start(Role.connect)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return on_connect(event, context)

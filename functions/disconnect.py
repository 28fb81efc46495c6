"""WebSocket ``$disconnect``: forget the connection (``runtime_core.routes.disconnect``)."""

from typing import Any

from runtime_core.routes.disconnect import on_disconnect
from runtime_core.wiring import Role, cold_start

cold_start(Role.disconnect)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return on_disconnect(event, context)

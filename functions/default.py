"""WebSocket ``$default``: one client frame in, a reply out, at most one step queued
(``runtime_core.routes.frames``)."""

from typing import Any

from runtime_core.routes.frames import on_frame
from runtime_core.wiring import Role, cold_start

cold_start(Role.default)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return on_frame(event, context)

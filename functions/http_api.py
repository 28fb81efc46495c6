"""The HTTP API: API Gateway HTTP API events to the FastAPI app (``runtime_core.http_api``) through Mangum."""

from typing import Any

from mangum import Mangum

from runtime_core.http_api import app, current_event_loop
from runtime_core.wiring import Role, cold_start

cold_start(Role.http)

_adapter = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    current_event_loop()
    return _adapter(event, context)

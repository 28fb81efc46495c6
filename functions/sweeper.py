"""The sweeper: every minute (EventBridge Scheduler), re-arm sessions that should be moving and are not
(``runtime_core.worker.sweeper``)."""

from typing import Any

from runtime_core.wiring import Role, cold_start
from runtime_core.worker.sweeper import on_schedule

cold_start(Role.sweeper)


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return on_schedule(event, context)

"""``get_workflow_logger`` of the original runtime: a standard ``logging`` logger per workflow.

Records go to the ``workflows.<name>`` logger with the session as extra fields; the runtime's own logging
setup decides where they end up.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["get_core_logger", "get_workflow_logger"]


def get_workflow_logger(
    workflow_name: str = "workflow", chat_id: str | None = None, app_id: str | None = None, **fields: Any
) -> logging.LoggerAdapter:
    extra = {"workflow_name": workflow_name, "chat_id": chat_id, "app_id": app_id, **fields}
    return logging.LoggerAdapter(logging.getLogger(f"workflows.{workflow_name}"), extra)


def get_core_logger(name: str = "core", **fields: Any) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(logging.getLogger(f"mozaiks.{name}"), fields)

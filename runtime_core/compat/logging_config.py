"""``get_workflow_logger`` of the original runtime: a standard ``logging`` logger per workflow.

Records go to the ``workflows.<name>`` logger with the session as extra fields; the runtime's own logging
setup decides where they end up.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["get_core_logger", "get_workflow_logger", "sanitize_for_log"]

# Longest value a log line carries from user input.
_MAX_LOGGED = 500


def get_workflow_logger(
    workflow_name: str = "workflow", chat_id: str | None = None, app_id: str | None = None, **fields: Any
) -> logging.LoggerAdapter:
    extra = {"workflow_name": workflow_name, "chat_id": chat_id, "app_id": app_id, **fields}
    return logging.LoggerAdapter(logging.getLogger(f"workflows.{workflow_name}"), extra)


def get_core_logger(name: str = "core", **fields: Any) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(logging.getLogger(f"mozaiks.{name}"), fields)


def sanitize_for_log(value: Any) -> str:
    """A value fit for one log line: line breaks and control characters escaped, length bounded."""
    text = str(value)
    cleaned = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return cleaned if len(cleaned) <= _MAX_LOGGED else cleaned[:_MAX_LOGGED] + "..."

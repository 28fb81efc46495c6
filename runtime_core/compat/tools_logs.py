"""Tool loggers of the original runtime (``logs.tools_logs``): standard ``logging`` records."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["get_tool_logger", "log_tool_event"]


def get_tool_logger(tool_name: str = "tool", **fields: Any) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(logging.getLogger(f"tools.{tool_name}"), {"tool_name": tool_name, **fields})


def log_tool_event(logger: Any, action: str = "", status: str = "ok", **fields: Any) -> None:
    target = logger if logger is not None else logging.getLogger("tools")
    target.info("tool event %s %s %s", action, status, fields)

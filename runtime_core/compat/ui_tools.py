"""``use_ui_tool`` as the original MozaiksAI runtime's tools call it, on this runtime's stateless steps.

The original emitted a UI event and awaited the client's answer inside the tool. Here the wait ends the
step: ``runtime_core.tools.ask_ui`` raises, the engine sends an ``input_request`` for the component, and the
next step runs the tool again from the start, ``use_ui_tool`` returning the recorded answer at that point.
"""

from __future__ import annotations

import logging
from typing import Any

from runtime_core.tools import Display, NotInTool, ask_ui

__all__ = ["UIToolError", "emit_tool_progress_event", "use_ui_tool"]

LOG = logging.getLogger("runtime_core.tools")


class UIToolError(Exception):
    """A UI interaction that cannot happen (the original's exception type, caught by its tools)."""


async def use_ui_tool(
    tool_id: str,
    payload: dict[str, Any],
    *,
    chat_id: str | None = None,
    workflow_name: str = "unknown",
    display: Display | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Show ``tool_id`` (a client component) with ``payload`` and return the user's answer.

    ``display`` defaults to the mode tools.yaml gives the component, else inline. ``chat_id``,
    ``workflow_name`` and ``timeout`` are accepted for compatibility: the session is the one running, and a
    stateless step never blocks waiting.
    """
    if not isinstance(payload, dict):
        raise UIToolError(
            f"use_ui_tool({tool_id!r}): the payload must be a dict, not {type(payload).__name__}"
        )
    try:
        return ask_ui(tool_id, payload, display=display)
    except NotInTool as exc:
        raise UIToolError(
            f"use_ui_tool({tool_id!r}) can wait for the user only inside a tool: {exc}"
        ) from exc


async def emit_tool_progress_event(
    tool_name: str,
    progress_percent: float,
    status_message: str,
    chat_id: str | None = None,
    correlation_id: str | None = None,
) -> None:
    """Logged only: a step reports its events when it ends, so mid-tool progress never reaches the client."""
    LOG.info("tool %s progress %.0f%%: %s", tool_name, max(0.0, min(100.0, progress_percent)), status_message)

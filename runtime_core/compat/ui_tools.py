"""``use_ui_tool`` as the original MozaiksAI runtime's tools call it, on this runtime's stateless steps.

The original emitted a UI event and awaited the client's answer inside the tool. Here the wait ends the
step: ``runtime_core.tools.ask_ui`` raises, the engine sends an ``input_request`` for the component, and the
next step runs the tool again from the start, ``use_ui_tool`` returning the recorded answer at that point.

The early original runtime's tools made the two halves separate calls, ``event_id = await
emit_ui_tool_event(...)`` then ``await wait_for_ui_tool_response(event_id)``: the emit only notes the request
(its id derived from the running call, so a replay gets the same id) and the wait is the ``ask_ui``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from runtime_core.tools import Display, NotInTool, ask_ui, current_tool_call

__all__ = [
    "UIToolError",
    "emit_tool_progress_event",
    "emit_ui_tool_event",
    "use_ui_tool",
    "wait_for_ui_tool_response",
]

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


# Event id -> (component, payload, display) of emitted events not awaited yet.
_EMITTED: dict[str, tuple[str, dict[str, Any], Display | None]] = {}
_EMITTED_LOCK = threading.Lock()


async def emit_ui_tool_event(
    tool_id: str,
    payload: dict[str, Any],
    display: Display | None = None,
    chat_id: str | None = None,
    workflow_name: str = "unknown",
) -> str:
    """Note a request for the component ``tool_id``; ``wait_for_ui_tool_response`` asks it. The id is stable
    across replays of the same tool call (same call, component and payload)."""
    if not isinstance(payload, dict):
        raise UIToolError(
            f"emit_ui_tool_event({tool_id!r}): the payload must be a dict, not {type(payload).__name__}"
        )
    call = current_tool_call()
    if call is None:
        raise UIToolError(f"emit_ui_tool_event({tool_id!r}) can reach the user only inside a tool")
    body = json.dumps([call.idempotency_key, tool_id, payload], sort_keys=True, default=str)
    event_id = f"{tool_id}_{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    with _EMITTED_LOCK:
        _EMITTED[event_id] = (tool_id, payload, display)
    return event_id


async def wait_for_ui_tool_response(event_id: str, timeout: float | None = None) -> dict[str, Any]:
    """The user's answer to the request ``emit_ui_tool_event`` returned ``event_id`` for."""
    with _EMITTED_LOCK:
        emitted = _EMITTED.pop(event_id, None)
    if emitted is None:
        raise UIToolError(f"no UI tool event {event_id!r} was emitted by this tool call")
    tool_id, payload, display = emitted
    return await use_ui_tool(tool_id, payload, display=display)

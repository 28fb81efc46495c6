"""How session events read in a terminal: one line each, shared by ``mozaiks run`` and ``mozaiks chat``."""

from __future__ import annotations

import json
from typing import Any

from runtime_core.events import Event, parse_event


def describe(event: Event | dict[str, Any], *, you: bool = False) -> str | None:
    """One line for ``event``, or None when it needs none.

    ``you`` is the chat's point of view: the user's messages read ``[you]``, and per-call usage and input
    requests get no line (the chat prints the totals at the end and asks for the input itself).
    """
    if isinstance(event, dict):
        event = parse_event(event)
    match event.type:
        case "run_started":
            return f"▶ {event.workflow}: agents {', '.join(event.agents)}"
        case "user_message":
            return f"  [{'you' if you else 'user'}] {event.text}"
        case "speaker_selected":
            return f"  → {event.agent} (turn {event.turn})"
        case "agent_message":
            return f"  [{event.agent}] {event.content}"
        case "tool_call":
            flavour = "UI tool" if event.ui else "tool"
            return f"  [{event.agent}] calls {flavour} {event.call.name}({event.call.arguments})"
        case "tool_result":
            return f"    {event.name} {'error' if event.is_error else 'result'}: {event.content}"
        case "handoff":
            reason = f" ({event.reason})" if event.reason else ""
            return f"  ⇢ handoff {event.from_agent} → {event.to}{reason}"
        case "structured_output":
            return f"  [{event.agent}] {event.model}: {json.dumps(event.data, ensure_ascii=False)}"
        case "input_request" if not you:
            request = event.request
            if request.kind == "ui_tool":
                return f"  ? {request.tool_name} asks the user: {json.dumps(request.ui, ensure_ascii=False)}"
            return "  ? waiting for the user"
        case "usage" if not you:
            return f"    usage: +{event.prompt_tokens}/{event.completion_tokens} tokens"
        case "run_completed":
            return f"■ run {event.status}" + (f": {event.reason}" if event.reason else "")
        case "error":
            return f"  ! {event.code}: {event.message}"
    return None

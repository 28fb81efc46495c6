"""Context variables shown in an agent's prompt (the original dialect's ``agents[].variables``).

The original runtime appends a "Context Variables" block to the agent's system message, one line per
variable (``NAME: value``, the name upper-cased), and re-renders it before every reply from the current
context, so the agent always reads the values as they are now. This does the same through AG2's
``update_agent_state`` hook (what ``UpdateSystemMessage`` registers), deterministically: the block is a pure
function of the base message and the context, so a step resumed in a fresh process renders the same text as
an uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

HEADER = "Context Variables"


def render_value(value: Any) -> str:
    """How a value reads in the prompt: null, true/false, text as is, containers as compact JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        # JSON rather than Python's repr: the model reads the same form the tools return.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def with_variables(base: str, variables: tuple[str, ...], context: dict[str, Any]) -> str:
    """``base`` followed by the block of ``variables`` (in the order written) read from ``context``."""
    if not variables:
        return base
    lines = [HEADER, *(f"{name.upper()}: {render_value(context.get(name))}" for name in variables)]
    block = "\n".join(lines)
    return f"{base.strip()}\n\n{block}" if base.strip() else block


def exposure_hook(base: str, variables: tuple[str, ...]) -> Callable[[Any, list[dict[str, Any]]], Any]:
    """An ``update_agent_state`` hook: before the agent replies, its system message shows the variables."""

    def show_variables(agent: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        agent.update_system_message(with_variables(base, variables, agent.context_variables.to_dict()))
        return messages

    return show_variables

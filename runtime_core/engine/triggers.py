"""State triggers: context variables that an agent's text, or a UI tool's answer, sets during the run.

As in the original MozaiksAI runtime (``source.type: state`` with ``triggers``):

- ``agent_text``: a reply of ``agent`` matches when its text, stripped (or its last non-empty line),
  equals ``match.equals`` or contains ``match.contains`` (both case-insensitive), or when ``match.regex``
  (case-insensitive) finds a match in it. The variable becomes true right after the reply, before handoffs
  are evaluated and the next speaker is chosen. ``ui_hidden`` keeps that reply from the user (no
  ``agent_message`` event); it stays in the transcript the agents see.
- ``ui_response``: the client's answer to a UI request of ``tool`` sets the variable to the answer's
  ``response_key`` (when the answer has it).

Pure functions of the workflow and the text or answer: a resumed step applies them exactly as an
uninterrupted run does, and the values persist with the context.
"""

from __future__ import annotations

import re
from typing import Any

from runtime_core.workflow.spec import Workflow

AGENT_TEXT = "agent_text"
UI_RESPONSE = "ui_response"


def agent_text_updates(workflow: Workflow, agent: str, content: str | None) -> tuple[dict[str, Any], bool]:
    """The variables ``agent``'s reply sets, and whether the reply is hidden from the user."""
    text = (content or "").strip()
    if not text:
        return {}, False
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    candidates = {text, lines[-1]} if lines else {text}
    updates: dict[str, Any] = {}
    hidden = False
    for variable in workflow.context_variables:
        for trigger in variable.triggers:
            if trigger.type != AGENT_TEXT or trigger.agent != agent or trigger.match is None:
                continue
            if any(_matches(trigger.match, candidate) for candidate in candidates):
                updates[variable.name] = True
                hidden = hidden or trigger.ui_hidden
    return updates, hidden


def hides_text(workflow: Workflow, agent: str) -> bool:
    """Whether a ``ui_hidden`` trigger watches ``agent``'s text (its replies are then never streamed)."""
    return any(
        t.type == AGENT_TEXT and t.agent == agent and t.ui_hidden
        for variable in workflow.context_variables
        for t in variable.triggers
    )


def ui_response_updates(workflow: Workflow, tool: str | None, answer: dict[str, Any]) -> dict[str, Any]:
    """The variables the client's answer to a UI request of ``tool`` sets."""
    updates: dict[str, Any] = {}
    for variable in workflow.context_variables:
        for trigger in variable.triggers:
            key = trigger.response_key
            if trigger.type == UI_RESPONSE and trigger.tool == tool and key is not None and key in answer:
                updates[variable.name] = answer[key]
    return updates


def _matches(match: Any, text: str) -> bool:
    folded = text.casefold()
    if match.equals is not None and folded == match.equals.strip().casefold():
        return True
    if match.contains is not None and match.contains.casefold() in folded:
        return True
    if match.regex is not None:
        try:
            return re.search(match.regex, text, flags=re.IGNORECASE) is not None
        except re.error:
            return False
    return False

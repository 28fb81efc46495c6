"""Case tool of the Escalation test workflow, written as the original runtime's tools were: postponed
annotations, and the context changed in place (no ReplyResult)."""

from __future__ import annotations

from autogen.agentchat.group import ContextVariables


def close_case(resolution: str, context_variables: ContextVariables) -> str:
    """Close the case and remember how."""
    context_variables.set("case_closed", True)
    context_variables["resolution"] = resolution
    return f"Case closed: {resolution}"

"""Plan tool of the Planner test workflow (original dialect): invoked from the Planner's structured output."""

from __future__ import annotations

from typing import Any


def save_plan(title: str, step_list: list[str], chat_id: str, context_variables: Any) -> str:
    """Save the plan: in place in the context, as the original's tools do."""
    context_variables["plan_saved"] = True
    context_variables["plan_steps"] = len(step_list)
    context_variables["saved_in"] = chat_id
    return f"saved {title!r} with {len(step_list)} steps"

"""Review tool of the PlanDesk test workflow, written as the original runtime's auto-invoked UI tools are."""

from __future__ import annotations

from typing import Any

from mozaiksai.core.workflow.outputs.ui_tools import use_ui_tool
from workflows._shared.formatting import stage_line


async def review_plan(
    title: str,
    stages: list[str],
    agent_message: str,
    chat_id: str,
    context_variables: Any = None,
) -> dict[str, Any]:
    """Show the plan; the user's decision goes into the context."""
    # Before the wait: runs again on every replay, and what it changes is kept only when the tool completes.
    context_variables["reviews_started"] = (context_variables.get("reviews_started") or 0) + 1
    response = await use_ui_tool(
        "PlanReview",
        {"title": title, "stages": stages, "order": stage_line(stages), "message": agent_message},
        chat_id=chat_id,
        workflow_name="PlanDesk",
    )
    context_variables["plan_status"] = response.get("decision")
    # An ``external`` variable: the original left it to tools to fetch and set.
    context_variables["release_ticket"] = f"REL-{len(stages)}"
    return {"status": "success", "decision": response.get("decision"), "stages": len(stages)}

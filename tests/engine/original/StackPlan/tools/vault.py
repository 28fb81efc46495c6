"""Deploy token tools, written as the early original runtime's UI tools were: emit, then wait."""

from typing import Any

from core.workflow.ui_tools import emit_ui_tool_event, wait_for_ui_tool_response
from workflows.StackPlan.tools.notes import note


async def ask_token(service: str, context_variables: Any = None) -> dict[str, Any]:
    """Ask the user for the deploy token; only its length leaves the tool."""
    event_id = await emit_ui_tool_event(
        tool_id="token_form",
        payload={"service": service, "label": f"{service} deploy token"},
        chat_id=context_variables.get("chat_id"),
        workflow_name="StackPlan",
    )
    response = await wait_for_ui_tool_response(event_id)
    token = (response.get("data") or {}).get("token") or ""
    context_variables.set("token_status", response.get("status", "unknown"))
    return {"status": response.get("status"), "service": service, "token_length": len(token)}


def keep_reference(where: str, context_variables: Any = None) -> str:
    """Record where the deploy token is kept."""
    note(f"token kept in {where}", context_variables)
    context_variables.set("token_ref", where)
    return "recorded"

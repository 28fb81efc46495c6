"""The kit offer: a UI tool whose display mode comes from tools.yaml (display: artifact)."""

from typing import Any

from core.workflow.ui_tools import use_ui_tool


async def offer_kit(files: list[str], context_variables: Any = None) -> dict[str, Any]:
    """Offer the kit's files to the user for download."""
    response = await use_ui_tool(
        "kit_panel",
        {"files": files, "service": context_variables.get("service_name")},
        chat_id=context_variables.get("chat_id"),
        workflow_name="StackPlan",
    )
    chosen = (response.get("data") or {}).get("downloaded") or []
    context_variables.set("downloaded", chosen)
    return {"status": response.get("status"), "downloaded": chosen}

"""Tools of the KeyDesk test workflow, written the way the original MozaiksAI runtime's tools are."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

from logs.logging_config import get_workflow_logger
from mozaiksai.core.workflow.outputs.ui_tools import UIToolError, use_ui_tool
from workflows.KeyDesk.tools.naming import display_name


async def request_key(
    service: Annotated[str, "Lowercase service identifier"],
    context_variables: Annotated[Optional[Any], "Injected runtime context."] = None,  # noqa: UP045 (as published)
) -> dict[str, Any]:
    """Ask the user for the service's API key; never return the key itself."""
    chat_id = context_variables.get("chat_id")
    workflow_name = context_variables.get("workflow_name")
    log = get_workflow_logger(workflow_name=workflow_name, chat_id=chat_id)
    try:
        response = await use_ui_tool(
            "AgentAPIKeyInput",
            {"service": service, "label": f"{display_name(service)} API Key"},
            chat_id=chat_id,
            workflow_name=workflow_name,
        )
    except UIToolError as exc:
        return {"status": "error", "message": str(exc)}
    status = response.get("status", "unknown")
    data = context_variables.data
    data["key_status"] = status
    context_variables.set("key_service", service)
    log.info("key request for %s: %s", service, status)
    key = (response.get("data") or {}).get("apiKey") or ""
    return {
        "status": status,
        "service": service,
        "key_length": len(key),
        "app_id": context_variables.get("app_id"),
    }


def report(context_variables: Any = None) -> str:
    """Report what the context holds."""
    keys = ["key_status", "key_service", "app_id", "user_id", "chat_id", "workflow_name"]
    return json.dumps({k: context_variables.get(k) for k in keys})

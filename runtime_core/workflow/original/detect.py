"""Which dialect a parsed file is written in.

Detection is per file, on keys that only the original dialect has; a folder is in the original dialect when
any of its files is (then defaults such as the workflow name from the folder apply). A file that shows no
mark of either dialect is read as this runtime's own.
"""

from __future__ import annotations

from typing import Any

_ORCHESTRATOR_KEYS = {
    "orchestration_pattern",
    "initial_message_to_user",
    "visual_agents",
    "runtime_extensions",
}
_ORIGINAL_STARTUP = {"AgentDriven", "UserDriven", "BackendOnly"}
_AGENT_KEYS = {"prompt_sections", "auto_tool_mode", "structured_outputs_required"}
_TOOL_KEYS = {"agent", "tool_type", "auto_invoke"}
_HOOK_KEYS = {"hook_type", "hook_agent", "filename"}


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


_LISTED_HANDOFF_KEYS = {"from", "to", "trigger", "conditions"}


def is_variant(name: str, data: Any) -> bool:
    """A file in a variant of the original dialect (published SubscriptionAdvisor): ``handoffs`` as a list of
    from / to / trigger, ``context_variables`` as a name -> spec mapping (not the early dialect's
    ``{variables: [...]}``). These shapes are also plain mistakes in this runtime's dialect, so they count as
    original only beside files that are."""
    if not isinstance(data, dict):
        return False
    if name == "handoffs.yaml":
        return any(_LISTED_HANDOFF_KEYS & entry.keys() for entry in _list_of_dicts(data.get("handoffs")))
    if name == "context_variables.yaml":
        block = data.get("context_variables")
        return isinstance(block, dict) and "variables" not in block
    return False


def is_original(name: str, data: Any) -> bool:
    """Whether the parsed content of workflow file ``name`` is written in the original dialect."""
    if not isinstance(data, dict):
        return False
    if name == "orchestrator.yaml":
        return bool(_ORCHESTRATOR_KEYS & data.keys()) or data.get("startup_mode") in _ORIGINAL_STARTUP
    if name == "agents.yaml":
        agents = data.get("agents")
        if isinstance(agents, dict):
            return True
        return any(_AGENT_KEYS & entry.keys() for entry in _list_of_dicts(agents))
    if name == "handoffs.yaml":
        return "handoff_rules" in data or isinstance(data.get("handoffs"), dict)
    if name == "tools.yaml":
        tools = _list_of_dicts(data.get("tools"))
        if "backend_tools" in data or "ui_tools" in data or isinstance(data.get("lifecycle_tools"), dict):
            return True  # the early dialect (runtime_core.workflow.original.early_tools)
        return any(_TOOL_KEYS & entry.keys() for entry in tools) or (
            "lifecycle_tools" in data
            and any("tool_type" in e for e in _list_of_dicts(data["lifecycle_tools"]))
        )
    if name == "context_variables.yaml":
        block = data.get("context_variables")
        # The early dialect nests its list: ``context_variables: {variables: [...]}``.
        return "definitions" in data or (isinstance(block, dict) and "variables" in block)
    if name == "structured_outputs.yaml":
        return "structured_outputs" in data or "registry" in data or isinstance(data.get("models"), dict)
    if name == "hooks.yaml":
        return any(_HOOK_KEYS & entry.keys() for entry in _list_of_dicts(data.get("hooks")))
    return False

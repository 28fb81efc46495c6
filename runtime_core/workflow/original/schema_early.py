"""The early original dialect's files (``backend_tools`` / ``ui_tools``), for their JSON Schema only.

The loader reads these files by translating them (``early_tools``, ``early_files``); these models describe
them as their authors wrote them, for editor support. Only the files whose shape differs from the later
original dialect have a model here; orchestrator.yaml (``recipient``) and agents.yaml (``llm_config_type``,
``human_input_mode``) share the later dialect's models (``schema``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from runtime_core.workflow.original.early_tools import LIFECYCLE_EVENTS
from runtime_core.workflow.spec_base import Strict


class EarlyTool(Strict):
    path: str
    """workflows.<Name>.tools.<module>.<function>: a function of the workflow's tools folder."""
    description: str | None = None
    """What the tool does; the function's docstring when unset."""
    tool_id: str | None = None
    """UI tools: the client component (the function's name when unset)."""
    ui_tool_id: str | None = None
    """UI tools: the older name of tool_id."""
    display: Literal["inline", "artifact"] | None = None
    """UI tools: inline (in the chat, the default) or artifact (a side panel)."""


class EarlyLifecycleTool(Strict):
    path: str
    """workflows.<Name>.tools.<module>.<function>."""
    description: str | None = None
    """What it does."""
    lifecycle_event: Literal[LIFECYCLE_EVENTS]  # type: ignore[valid-type]
    """When the original registry filed it; its chat loop never ran these (not run here either)."""


class EarlyToolsFile(Strict):
    """tools.yaml (early original dialect)."""

    backend_tools: dict[str, list[EarlyTool | str]] = Field(default_factory=dict)
    """Agent name (or ALL_AGENTS: every agent) -> its tools."""
    ui_tools: dict[str, list[EarlyTool | str]] = Field(default_factory=dict)
    """Agent name (or ALL_AGENTS) -> its UI tools (tool_id, display)."""
    lifecycle_tools: dict[str, EarlyLifecycleTool] = Field(default_factory=dict)
    """Name -> lifecycle tool (loaded by the original registry, never run)."""


class EarlyHandoffRule(Strict):
    source_agent: str
    """Agent that hands off."""
    target_agent: str
    """Agent, user or terminate: the only field that chose the target."""
    handoff_type: Literal["after_work", "condition", "context_condition"] = "after_work"
    """after_work, condition (judged by the model) or context_condition (context_expression)."""
    condition: str | None = None
    """condition: the sentence the model judges."""
    context_expression: str | None = None
    """context_condition: an AG2 context expression, checked before the agent replies."""
    priority: int | float | None = None
    """condition: order among the agent's conditions, lower first (default 1)."""
    transition_target: str | None = None
    """Kind of target, as the generator wrote it; not read by the original runtime."""
    description: str | None = None
    """Why the rule exists."""


class EarlyHandoffs(Strict):
    handoff_rules: list[EarlyHandoffRule] = Field(default_factory=list)
    """The rules."""


class EarlyHandoffsFile(Strict):
    """handoffs.yaml (early original dialect)."""

    handoffs: EarlyHandoffs
    """The rules, under handoff_rules."""


class EarlyDatabase(Strict):
    collection: str
    """Collection to read (scoped to the session's app here)."""
    query: dict[str, Any] = Field(default_factory=dict)
    """Filter of the first matching document."""
    field: str = "content"
    """Field of that document that becomes the value."""


class EarlyVariable(Strict):
    name: str
    """Variable name."""
    description: str | None = None
    """What it holds."""
    default_value: Any = ""
    """Value when nothing is read."""
    type: str | None = None
    """str, bool, int, float, list or dict; inferred from the default when unset."""
    database: EarlyDatabase | None = None
    """Read from the database when the session starts."""


class EarlyVariables(Strict):
    variables: list[EarlyVariable] = Field(default_factory=list)
    """The variables."""


class EarlyContextVariablesFile(Strict):
    """context_variables.yaml (early original dialect)."""

    context_variables: EarlyVariables
    """The variables, under variables."""


EARLY_MODELS: dict[str, tuple[str, type[Strict]]] = {
    "original/early_tools": ("tools.yaml", EarlyToolsFile),
    "original/early_handoffs": ("handoffs.yaml", EarlyHandoffsFile),
    "original/early_context_variables": ("context_variables.yaml", EarlyContextVariablesFile),
}

"""The original dialect's files as pydantic models, for their JSON Schema (editor support) only.

The loader reads the original dialect by translating it (``runtime_core.workflow.original``) and checks the
result with this runtime's own models; these models describe the files as their authors write them, so an
editor can complete and check them. ``tests/workflow/test_workflow_original_schema.py`` validates the test
workflows of that dialect against the exported schemas, so the two readings cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from runtime_core.workflow.original.schema_early import EARLY_MODELS
from runtime_core.workflow.spec_base import Strict, ToolUI

Names = list[str]


class OriginalOrchestrator(Strict):
    """orchestrator.yaml (original dialect)."""

    workflow_name: str | None = None
    """Name of the workflow; the folder's name when unset."""
    description: str | None = None
    """What the workflow does."""
    max_turns: int = 50
    """Most agent turns in one run."""
    human_in_the_loop: bool | str = False
    """Whether the run may wait for the user."""
    startup_mode: Literal["AgentDriven", "UserDriven", "BackendOnly"] = "AgentDriven"
    """AgentDriven (the initial agent opens), UserDriven (the user opens), BackendOnly."""
    orchestration_pattern: Literal["DefaultPattern", "AutoPattern", "RoundRobinPattern", "RandomPattern"] = (
        "AutoPattern"
    )
    """AG2 pattern: DefaultPattern (handoffs), AutoPattern, RoundRobinPattern or RandomPattern."""
    initial_message: str | None = None
    """Message that opens the run."""
    initial_message_to_user: str | None = None
    """Greeting for the user; the opening message when initial_message is unset."""
    initial_agent: str | None = None
    """Agent that speaks first."""
    recipient: str | None = None
    """Early dialect: the agent the opening message is for (the initial agent)."""
    visual_agents: Names | None = None
    """Agents whose output reaches the user (user may be listed)."""
    runtime_extensions: list[dict[str, Any]] | None = None
    """Integrations of the original runtime; not supported here."""
    metadata: dict[str, Any] | None = None
    """Ignored, as by the original runtime (descriptive)."""
    triggers: list[dict[str, Any]] | None = None
    """Ignored, as by the original runtime: no run is started from it."""
    inputs: dict[str, Any] | None = None
    """Ignored, as by the original runtime: what starts a run is not checked against it."""
    outputs: dict[str, Any] | None = None
    """Ignored, as by the original runtime: what a run produces is not checked against it."""


class OriginalPromptSection(Strict):
    id: str | None = None
    """Section identifier."""
    heading: str | None = None
    """Heading line, e.g. [ROLE]."""
    content: str | None = None
    """Text of the section (a section may be only a heading)."""


class OriginalAgent(Strict):
    name: str | None = None
    """Agent name (list form only; the key in the mapping form)."""
    display_name: str | None = None
    """Name shown to people."""
    description: str | None = None
    """What the agent does."""
    prompt_sections: list[OriginalPromptSection] | dict[str, OriginalPromptSection] = Field(
        default_factory=list
    )
    """System message sections, joined in order (or named: role, objective, context, ...)."""
    prompt_sections_custom: list[OriginalPromptSection] | None = None
    """Sections used when prompt_sections is empty."""
    system_message: str | None = None
    """Plain system message (instead of prompt_sections)."""
    max_consecutive_auto_reply: int | None = None
    """Most replies in a row."""
    auto_tool_mode: bool = False
    """Structured output invokes the agent's auto_invoke tool."""
    structured_outputs_required: bool = False
    """Replies follow the registry's model."""
    llm_config_type: str = "base"
    """Early dialect: a flow of structured_outputs.yaml's registry (base: the plain model config)."""
    human_input_mode: Literal["NEVER", "ALWAYS", "TERMINATE"] = "NEVER"
    """Early dialect: AG2's human_input_mode (ALWAYS, TERMINATE: loaded, not yet run)."""


class OriginalAgentsFile(Strict):
    """agents.yaml (original dialect): a name -> agent mapping, or a list of agents with names."""

    agents: dict[str, OriginalAgent] | list[OriginalAgent]
    """The agents."""


class OriginalHandoffRule(Strict):
    source_agent: str
    """Agent (or user) that hands off."""
    target_agent: str
    """Agent, user or terminate."""
    handoff_type: Literal["after_work", "condition"] = "after_work"
    """after_work or condition."""
    condition_type: Literal["expression", "string_llm", "context", "llm"] | None = None
    """expression (context variables) or string_llm (the model judges); from the text when unset."""
    condition_scope: str | None = None
    """pre: checked before the agent replies; unset: when its turn is over."""
    condition: str | None = None
    """The expression or the sentence."""
    transition_target: Literal["AgentTarget", "RevertToUserTarget", "TerminateTarget"] | None = None
    """Kind of target."""
    description: str | None = None
    """Why the rule exists."""


class OriginalListedHandoff(Strict):
    """A handoff of the ``handoffs:`` list (a variant): never wired by the original runtime."""

    from_agent: str | None = Field(default=None, alias="from")
    """Agent that hands off."""
    to: str | None = None
    """Agent or TERMINATE."""
    trigger: str | None = None
    """Word the agent says to hand off."""
    description: str | None = None
    """Why the handoff exists."""
    conditions: list[str] | None = None
    """Conditions, as text."""


class OriginalHandoffsFile(Strict):
    """handoffs.yaml (original dialect)."""

    handoff_rules: list[OriginalHandoffRule] = Field(default_factory=list)
    """The rules."""
    handoffs: list[OriginalListedHandoff] | None = None
    """Ignored, as by the original runtime: its wiring read only handoff_rules and failed on this list."""


class OriginalTool(Strict):
    agent: str
    """Agent that calls the tool."""
    file: str
    """Python file name in the workflow's tools folder."""
    function: str
    """Function of that file; also the tool's name."""
    description: str | None = None
    """What the tool does."""
    tool_type: Literal["Agent_Tool", "UI_Tool"] = "Agent_Tool"
    """Agent_Tool or UI_Tool."""
    auto_invoke: bool | None = None
    """Invoked from the agent's structured output."""
    ui: ToolUI | None = None
    """UI component and display mode."""
    constraints: dict[str, Any] | None = None
    """Ignored, as by the original runtime: nothing enforces them."""


class OriginalLifecycleTool(OriginalTool):
    agent: str | None = None  # type: ignore[assignment]
    """Agent for before_agent / after_agent."""
    trigger: Literal["before_chat", "after_chat", "before_agent", "after_agent"]
    """When it runs."""


class OriginalToolsFile(Strict):
    """tools.yaml (original dialect)."""

    tools: list[OriginalTool] = Field(default_factory=list)
    """The tools."""
    lifecycle_tools: list[OriginalLifecycleTool] = Field(default_factory=list)
    """Functions run before/after the chat or an agent."""


class OriginalHook(Strict):
    hook_type: str
    """AG2 hook point, e.g. update_agent_state."""
    hook_agent: str = "all"
    """Agent name or all."""
    filename: str
    """Python file name in the tools folder."""
    function: str
    """Function of that file."""


class OriginalHooksFile(Strict):
    """hooks.yaml (original dialect)."""

    hooks: list[OriginalHook] = Field(default_factory=list)
    """The hooks."""


class OriginalSource(Strict):
    """Other settings (a computed source's ``computation``, an external source's ``service``, a data_entity's
    ``schema``...) are kept as written, in ``source_options``, as the loader keeps them."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)

    type: Literal[
        "config", "static", "computed", "state", "data_reference", "file", "external", "data_entity"
    ]
    """Where the value comes from."""
    default: Any = None
    """Initial value."""
    env_var: str | None = None
    """config: the environment variable."""
    required: bool | None = None
    """config: refuse to start a session while the environment variable is unset; file: while the file is
    missing (else the default is kept)."""
    db_type: str | None = None
    """data_reference: database kind."""
    database_name: str | None = None
    """data_reference: database."""
    collection: str | None = None
    """data_reference: collection."""
    query_template: dict[str, Any] | None = None
    """data_reference: filter."""
    fields: Names | None = None
    """data_reference: fields taken."""
    triggers: list[dict[str, Any]] | None = None
    """state: what sets it."""
    transitions: list[Any] | None = None
    """state: unused, empty."""
    path: str | None = None
    """file: the file, from the repository root (workflows/... is the workflows root) or the folder."""
    format: str | None = None
    """file: its format."""


class OriginalVariable(Strict):
    name: str | None = None
    """Variable name (list form only)."""
    type: str | None = None
    """string, boolean, integer, number, array or object."""
    description: str | None = None
    """What it holds."""
    source: OriginalSource | None = None
    """Where its value comes from."""


class OriginalExposure(Strict):
    agent_name: str | None = None
    """The agent."""
    agent: str | None = None
    """The agent (older name)."""
    variables: Names = Field(default_factory=list)
    """Variables its prompt sees."""


class OriginalVariableSpec(Strict):
    """A variable of the ``context_variables:`` mapping (a variant): never set by the original runtime."""

    type: str | None = None
    """Type of the value."""
    description: str | None = None
    """What it holds."""
    default: Any = None
    """Initial value."""
    enum: list[Any] | None = None
    """Allowed values."""


class OriginalContextVariablesFile(Strict):
    """context_variables.yaml (original dialect)."""

    context_variables: dict[str, OriginalVariableSpec] | None = None
    """Ignored, as by the original runtime: its loader read variables only from definitions."""

    definitions: dict[str, OriginalVariable] | list[OriginalVariable] = Field(default_factory=list)
    """The variables."""
    agents: dict[str, OriginalExposure] | list[OriginalExposure] = Field(default_factory=list)
    """Which variables each agent's prompt sees."""


class OriginalField(Strict):
    type: str
    """str, int, float, bool, dict, optional_str, a model name, list, optional_list, literal or union."""
    description: str | None = None
    """Meaning of the field."""
    default: Any = None
    """Value when left out."""
    items: str | None = None
    """list / optional_list: the item type."""
    variants: Names | None = None
    """union: the types ('null' = nullable)."""
    values: list[Any] | None = None
    """literal: the allowed values."""
    required: bool | None = None
    """Ignored, as by the original runtime: a field is optional when it has a default."""
    nullable: bool | None = None
    """Whether null is accepted."""


class OriginalModel(Strict):
    type: Literal["model"] = "model"
    """Always model."""
    description: str | None = None
    """What the model describes."""
    fields: dict[str, OriginalField | str]
    """Field name -> field (or just its type)."""
    required: Names | None = None
    """Ignored, as by the original runtime."""


class OriginalOutputs(Strict):
    models: dict[str, OriginalModel] = Field(default_factory=dict)
    """Model name -> model."""
    registry: dict[str, str | None] = Field(default_factory=dict)
    """Agent -> its model (or null)."""


class OriginalStructuredOutputsFile(Strict):
    """structured_outputs.yaml (original dialect)."""

    structured_outputs: OriginalOutputs
    """The models and the registry."""


class OriginalUIConfig(Strict):
    """ui_config.yaml (original dialect)."""

    visual_agents: Names | None = None
    """Agents whose output reaches the user."""


ORIGINAL_MODELS: dict[str, tuple[str, type[Strict]]] = {
    "original/orchestrator": ("orchestrator.yaml", OriginalOrchestrator),
    "original/agents": ("agents.yaml", OriginalAgentsFile),
    "original/handoffs": ("handoffs.yaml", OriginalHandoffsFile),
    "original/tools": ("tools.yaml", OriginalToolsFile),
    "original/context_variables": ("context_variables.yaml", OriginalContextVariablesFile),
    "original/structured_outputs": ("structured_outputs.yaml", OriginalStructuredOutputsFile),
    "original/hooks": ("hooks.yaml", OriginalHooksFile),
    "original/ui_config": ("ui_config.yaml", OriginalUIConfig),
    **EARLY_MODELS,
}

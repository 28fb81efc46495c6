"""Pydantic models of the workflow YAML files: one model per file kind.

Every model forbids unknown keys so a typo in YAML is an error, never a silently ignored setting.
Cross-file checks (does this agent exist?) live in ``crosscheck.py``; these models only check the shape
of one file at a time. Field docstrings become the descriptions of the JSON Schema editors show.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from runtime_core.workflow.spec_base import (
    DataReference,
    Dialect,
    Hook,
    HooksFile,
    Identifier,
    LifecycleTool,
    LLMConfig,
    RuntimeExtension,
    StateTrigger,
    Strict,
    ToolUI,
)

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]

# Special handoff / speaker targets besides agent names.
USER_TARGET = "user"
TERMINATE_TARGET = "terminate"
RESERVED_TARGETS = (USER_TARGET, TERMINATE_TARGET)


def _null_is_empty(value: Any) -> Any:
    # ``handoffs:`` with nothing under it reads as null; it means "none", not a type error.
    return [] if value is None else value


class OrchestrationStrategy(StrEnum):
    handoff_based = "handoff_based"
    round_robin = "round_robin"
    auto = "auto"
    random = "random"


class StartupMode(StrEnum):
    agent_first = "agent_first"
    user_first = "user_first"


class Orchestrator(Strict):
    """orchestrator.yaml: how the agents of the workflow take turns."""

    workflow_name: Identifier
    """Name of the workflow (letters, digits, underscore)."""
    description: str = ""
    """What the workflow does, for people."""
    orchestration_strategy: OrchestrationStrategy = OrchestrationStrategy.handoff_based
    """handoff_based (agents pass control by handoffs), round_robin, auto (a model picks) or random."""
    max_turns: Annotated[int, Field(ge=1, le=10_000)] = 20
    """Most agent turns in one run before it stops."""
    initial_agent: Identifier | None = None
    """Agent that speaks first; the first agent of agents.yaml when unset."""
    initial_message: str | None = None
    """Message that opens the run when startup_mode is agent_first."""
    startup_mode: StartupMode = StartupMode.user_first
    """user_first: wait for the user's first message; agent_first: the initial agent opens."""
    human_in_the_loop: bool = True
    """Whether the run may stop to wait for the user (handoffs to user, UI tools)."""
    llm_config: LLMConfig = LLMConfig()
    """Default model settings for every agent."""
    visible_agents: list[Identifier] | None = None
    """Agents whose messages reach the user; every agent's when unset."""
    streaming: bool = True
    """Stream agents' replies to clients as they are written (text_delta messages); false: whole replies."""
    termination_keywords: list[str] = Field(default_factory=list)
    """A reply containing one of these (exact, case-sensitive) ends the run."""
    initial_message_to_user: str | None = None
    """A greeting for the user before the first turn (original dialect); the opening message when
    initial_message is unset and the initial agent opens."""
    runtime_extensions: list[RuntimeExtension] | None = None
    """Integrations of the original runtime (API routers, services); not supported, reported by validate."""


class PromptSection(Strict):
    title: str
    """Heading of the section in the system message."""
    content: str
    """Text of the section."""


class Agent(Strict):
    name: Identifier
    """Unique agent name; handoffs and tools refer to it."""
    role: str = ""
    """Short role label, e.g. frontline_support."""
    description: str = ""
    """What the agent does; auto speaker selection reads it."""
    system_message: str | list[PromptSection] = ""
    """Instructions: plain text, or a list of titled sections joined in order."""
    capabilities: list[str] = Field(default_factory=list)
    """Free-form capability labels, for people and clients."""
    llm_config: LLMConfig = LLMConfig()
    """Overrides of the orchestrator's model settings for this agent."""
    tools: list[Identifier] = Field(default_factory=list)
    """Names of tools (tools.yaml) this agent may call."""
    structured_output: Identifier | None = None
    """Name of a model in structured_outputs.yaml the agent's replies must follow."""
    max_consecutive_auto_reply: Annotated[int, Field(ge=0)] | None = None
    """Most replies in a row without another speaker."""
    human_input_mode: Literal["NEVER", "ALWAYS", "TERMINATE"] | None = None
    """Original dialect (early): AG2's human_input_mode; NEVER is how every agent here replies."""
    streaming: bool | None = None
    """Stream this agent's replies as they are written; the orchestrator's streaming when unset."""
    auto_tool_mode: bool = False
    """The agent's structured output invokes its auto_invoke tool instead of the agent calling tools
    (original dialect; engine.auto_tools)."""
    context_variables: list[Identifier] | None = None
    """Context variables shown in this agent's prompt (original dialect agents[].variables): a "Context
    Variables" block after the system message, with their values when the agent replies."""


class AgentsFile(Strict):
    """agents.yaml: the agents of the workflow."""

    agents: list[Agent] = Field(min_length=1)
    """The agents, at least one."""


class ConditionType(StrEnum):
    llm = "llm"
    context = "context"
    after_work = "after_work"


class Evaluation(StrEnum):
    before_reply = "before_reply"
    after_reply = "after_reply"


class Handoff(Strict):
    from_agent: Identifier
    """Agent that hands off."""
    to_agent: Identifier
    """An agent name, user (wait for the user) or terminate (end the run)."""
    condition_type: ConditionType | None = None
    """llm, context or after_work; inferred when unset (expression: context, condition: llm, neither:
    after_work)."""
    condition: str | None = None
    """Natural-language condition the agent's model judges (llm handoffs)."""
    expression: str | None = None
    """Context-variable expression such as ``${escalated} == True`` (context handoffs). Parsed, never
    eval'ed by the validator."""
    evaluate: Evaluation | None = None
    """When a context handoff is checked: before_reply or after_reply (the default)."""
    description: str = ""
    """Why this handoff exists, for people."""

    def kind(self) -> ConditionType:
        if self.condition_type is not None:
            return self.condition_type
        if self.expression is not None:
            return ConditionType.context
        if self.condition is not None:
            return ConditionType.llm
        return ConditionType.after_work


class HandoffsFile(Strict):
    """handoffs.yaml: how control passes between agents."""

    handoffs: list[Handoff] = Field(default_factory=list)
    """The handoff rules, checked in order."""

    _null_handoffs = field_validator("handoffs", mode="before")(_null_is_empty)


class ToolKind(StrEnum):
    agent = "agent"
    ui = "ui"


class Tool(Strict):
    name: Identifier
    """Unique tool name the model calls."""
    file: str
    """Python file relative to the workflow folder, inside tools/ (e.g. tools/orders.py)."""
    function: Identifier
    """Top-level function of that file."""
    description: str = ""
    """What the tool does; the model reads it."""
    kind: ToolKind = ToolKind.agent
    """agent: runs on the server; ui: returns a payload the client renders, the user's answer is the
    result."""
    agents: list[Identifier] = Field(default_factory=list)
    """Agents that may call the tool (in addition to those naming it in their own tools list)."""
    ui: ToolUI | None = None
    """ui tools: the client component and its display mode (inline or artifact)."""
    auto_invoke: bool | None = None
    """Invoked from the structured output of an agent in auto_tool_mode (original dialect)."""


class ToolsFile(Strict):
    """tools.yaml: Python functions the agents may call."""

    tools: list[Tool] = Field(default_factory=list)
    """The tools."""
    lifecycle_tools: list[LifecycleTool] = Field(default_factory=list)
    """Functions run before/after the chat or an agent (engine.lifecycle)."""

    _null_tools = field_validator("tools", mode="before")(_null_is_empty)


class VariableType(StrEnum):
    str = "str"
    int = "int"
    float = "float"
    bool = "bool"
    list = "list"
    dict = "dict"


class VariableSource(StrEnum):
    static = "static"
    env = "env"
    # Set by tools during the run; starts from its default like static.
    computed = "computed"
    # Orchestration state; starts from its default, its triggers set it.
    state = "state"
    # Read from a file of the workflow folder when a session starts (workflow.context_files).
    file = "file"
    # Read from MongoDB for the session's tenant before its first step (runtime_core.data_references).
    data_reference = "data_reference"
    # Set by tools (the original fetched them in tools); starts from its default like computed.
    external = "external"
    # The original's writer for a workflow-owned collection: not provided (a warning, workflow.pending);
    # the variable is its default.
    data_entity = "data_entity"


class ContextVariable(Strict):
    name: Identifier
    """Unique variable name; expressions refer to it as ${name}."""
    type: VariableType = VariableType.str
    """str, int, float, bool, list or dict."""
    default: Any = None
    """Initial value (must match type); unset means no value until a tool sets one."""
    source: VariableSource = VariableSource.static
    """static: the default; env: read from the environment variable env_var (default when unset)."""
    env_var: EnvVarName | None = None
    """Environment variable to read when source is env."""
    description: str = ""
    """What the variable holds."""
    reference: DataReference | None = None
    """data_reference: the read-only, tenant-scoped database lookup that fills it when a session starts."""
    path: str | None = None
    """file: the file that fills it, relative to the workflow folder."""
    format: str | None = None
    """file: how to read that file: json, yaml or text (unset: from its suffix)."""
    from_workflows_root: bool = False
    """file: a path that is not in the workflow folder and starts with workflows/ names a file of the
    workflows root (the folder holding this workflow's folder), as the original runtime read it; it never
    leads out of that folder."""
    missing: Literal["error", "default"] = "error"
    """file: when the file is not found: error (the session does not start), or default (the variable keeps
    its default, with a warning)."""
    source_options: dict[str, Any] = Field(default_factory=dict)
    """Further settings of an original-dialect source (computed, external, data_entity...), kept as
    written."""
    triggers: list[StateTrigger] = Field(default_factory=list)
    """state: what sets it during the run (an agent's text, a UI tool's answer)."""


class ContextVariablesFile(Strict):
    """context_variables.yaml: shared state tools read and update and context handoffs test."""

    context_variables: list[ContextVariable] = Field(default_factory=list)
    """The variables."""

    _null_variables = field_validator("context_variables", mode="before")(_null_is_empty)


class OutputField(Strict):
    name: Identifier
    """Field name."""
    type: str
    """str, int, float, bool, dict, another model's name, list[<one of those>], or union (see
    variants)."""
    description: str = ""
    """Meaning of the field, for the model."""
    required: bool = True
    """Whether the model must fill it."""
    enum: list[str | int | float] | None = None
    """Allowed values, for str, int and float fields."""
    nullable: bool = False
    """Whether null is also accepted."""
    default: Any = None
    """Value when the model leaves the field out (setting it makes the field optional)."""
    variants: list[str] | None = None
    """type union: the types the value may have (null allowed)."""


class OutputModel(Strict):
    name: Identifier
    """Unique model name; agents refer to it in structured_output."""
    description: str = ""
    """What the model describes."""
    fields: list[OutputField] = Field(min_length=1)
    """The fields, at least one."""


class StructuredOutputsFile(Strict):
    """structured_outputs.yaml: shapes agent replies must follow."""

    models: list[OutputModel] = Field(default_factory=list)
    """The models."""

    _null_models = field_validator("models", mode="before")(_null_is_empty)


# File name -> model of that file. orchestrator.yaml and agents.yaml are required; the others are optional.
FILE_MODELS: dict[str, type[Strict]] = {
    "orchestrator.yaml": Orchestrator,
    "agents.yaml": AgentsFile,
    "handoffs.yaml": HandoffsFile,
    "tools.yaml": ToolsFile,
    "context_variables.yaml": ContextVariablesFile,
    "structured_outputs.yaml": StructuredOutputsFile,
    "hooks.yaml": HooksFile,
}
REQUIRED_FILES = ("orchestrator.yaml", "agents.yaml")
# Kind (as in ``docs/schema/<kind>.schema.json``) -> file name.
FILE_KINDS: dict[str, str] = {name.removesuffix(".yaml"): name for name in FILE_MODELS}


class Workflow(BaseModel):
    """A validated workflow: every file loaded and cross-checked. Produced by ``load_workflow``."""

    model_config = ConfigDict(frozen=True)

    root: Path
    orchestrator: Orchestrator
    agents: list[Agent]
    handoffs: list[Handoff] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)
    context_variables: list[ContextVariable] = Field(default_factory=list)
    structured_outputs: list[OutputModel] = Field(default_factory=list)
    hooks: list[Hook] = Field(default_factory=list)
    lifecycle_tools: list[LifecycleTool] = Field(default_factory=list)
    # The dialect the folder was written in; the engine never looks at it.
    dialect: Dialect = Dialect.mozaiks
    # sha256 over the YAML files and the tool sources: the cache key of a compiled workflow.
    content_hash: str

    @property
    def name(self) -> str:
        return self.orchestrator.workflow_name

    @property
    def instance_key(self) -> str:
        """What a compiled workflow, its built groups and its tool modules are cached under: the content and
        the folder. Equal files in two folders are two workflows: their names (the original dialect takes
        it from the folder), data files and tools' ``__file__`` differ."""
        return hashlib.sha256(f"{self.content_hash}\0{self.root}".encode()).hexdigest()

    @property
    def initial_agent(self) -> str:
        """The agent that speaks first: ``orchestrator.initial_agent``, else the first agent."""
        return self.orchestrator.initial_agent or self.agents[0].name

    def agent(self, name: str) -> Agent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def tools_for(self, agent_name: str) -> list[Tool]:
        """Tools an agent may call: named in the agent's ``tools`` or naming the agent in ``agents``."""
        named = set(self.agent(agent_name).tools)
        return [t for t in self.tools if t.name in named or agent_name in t.agents]

    def tool_path(self, tool: Tool) -> Path:
        """Absolute path of a tool's source file (validated to lie inside ``tools/``)."""
        return self.root / tool.file

    def output_model(self, name: str) -> OutputModel:
        for model in self.structured_outputs:
            if model.name == name:
                return model
        raise KeyError(name)

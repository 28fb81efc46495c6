"""Pydantic models of the workflow YAML files: one model per file kind.

Every model forbids unknown keys so a typo in YAML is an error, never a silently ignored setting.
Cross-file checks (does this agent exist?) live in ``crosscheck.py``; these models only check the shape
of one file at a time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]

# Special handoff / speaker targets besides agent names.
USER_TARGET = "user"
TERMINATE_TARGET = "terminate"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrchestrationStrategy(StrEnum):
    handoff_based = "handoff_based"
    round_robin = "round_robin"
    auto = "auto"
    random = "random"


class StartupMode(StrEnum):
    agent_first = "agent_first"
    user_first = "user_first"


class LLMConfig(Strict):
    """Model settings. The API key itself never appears in YAML: only the name of the variable holding it."""

    model: str | None = None
    api_type: Literal["openai"] | None = None
    base_url: str | None = None
    api_key_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    timeout: Annotated[float, Field(gt=0)] | None = None


class Orchestrator(Strict):
    workflow_name: Identifier
    description: str = ""
    orchestration_strategy: OrchestrationStrategy = OrchestrationStrategy.handoff_based
    max_turns: Annotated[int, Field(ge=1, le=10_000)] = 20
    initial_agent: Identifier | None = None
    initial_message: str | None = None
    startup_mode: StartupMode = StartupMode.user_first
    human_in_the_loop: bool = True
    llm_config: LLMConfig = LLMConfig()
    # None means every agent's messages reach the user.
    visible_agents: list[Identifier] | None = None
    # A reply that contains one of these (exact, case-sensitive) ends the run.
    termination_keywords: list[str] = Field(default_factory=list)


class PromptSection(Strict):
    title: str
    content: str


class Agent(Strict):
    name: Identifier
    role: str = ""
    description: str = ""
    system_message: str | list[PromptSection] = ""
    capabilities: list[str] = Field(default_factory=list)
    llm_config: LLMConfig = LLMConfig()
    tools: list[Identifier] = Field(default_factory=list)
    structured_output: Identifier | None = None
    max_consecutive_auto_reply: Annotated[int, Field(ge=0)] | None = None


class AgentsFile(Strict):
    agents: list[Agent]


class ConditionType(StrEnum):
    llm = "llm"
    context = "context"
    after_work = "after_work"


class Evaluation(StrEnum):
    before_reply = "before_reply"
    after_reply = "after_reply"


class Handoff(Strict):
    from_agent: Identifier
    # An agent name, ``user`` or ``terminate``.
    to_agent: Identifier
    condition_type: ConditionType | None = None
    # Natural-language condition the agent's model judges (llm handoffs).
    condition: str | None = None
    # Context-variable expression such as ``${escalated} == True`` (context handoffs). Parsed, never eval'ed.
    expression: str | None = None
    evaluate: Evaluation | None = None
    description: str = ""

    def kind(self) -> ConditionType:
        if self.condition_type is not None:
            return self.condition_type
        if self.expression is not None:
            return ConditionType.context
        if self.condition is not None:
            return ConditionType.llm
        return ConditionType.after_work


class HandoffsFile(Strict):
    handoffs: list[Handoff] = Field(default_factory=list)


class ToolKind(StrEnum):
    agent = "agent"
    ui = "ui"


class Tool(Strict):
    name: Identifier
    # Path relative to the workflow folder, inside ``tools/``.
    file: str
    function: Identifier
    description: str = ""
    kind: ToolKind = ToolKind.agent
    agents: list[Identifier] = Field(default_factory=list)


class ToolsFile(Strict):
    tools: list[Tool] = Field(default_factory=list)


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


class ContextVariable(Strict):
    name: Identifier
    type: VariableType = VariableType.str
    default: Any = None
    source: VariableSource = VariableSource.static
    env_var: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    description: str = ""


class ContextVariablesFile(Strict):
    context_variables: list[ContextVariable] = Field(default_factory=list)


class OutputField(Strict):
    name: Identifier
    # ``str``, ``int``, ``float``, ``bool``, another model's name, or ``list[<one of those>]``.
    type: str
    description: str = ""
    required: bool = True
    enum: list[str | int | float] | None = None


class OutputModel(Strict):
    name: Identifier
    description: str = ""
    fields: list[OutputField]


class StructuredOutputsFile(Strict):
    models: list[OutputModel] = Field(default_factory=list)


# File name -> model of that file. orchestrator.yaml and agents.yaml are required; the others are optional.
FILE_MODELS: dict[str, type[Strict]] = {
    "orchestrator.yaml": Orchestrator,
    "agents.yaml": AgentsFile,
    "handoffs.yaml": HandoffsFile,
    "tools.yaml": ToolsFile,
    "context_variables.yaml": ContextVariablesFile,
    "structured_outputs.yaml": StructuredOutputsFile,
}
REQUIRED_FILES = ("orchestrator.yaml", "agents.yaml")


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
    # sha256 over the YAML files and the tool sources: the cache key of a compiled workflow.
    content_hash: str

    @property
    def name(self) -> str:
        return self.orchestrator.workflow_name

    def agent(self, name: str) -> Agent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def tools_for(self, agent_name: str) -> list[Tool]:
        """Tools an agent may call: named in the agent's ``tools`` or naming the agent in ``agents``."""
        named = set(self.agent(agent_name).tools)
        return [t for t in self.tools if t.name in named or agent_name in t.agents]

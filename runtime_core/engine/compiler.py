"""The immutable half of a workflow's AG2 form, cached per process by the workflow's content hash.

What can be shared between sessions is compiled once: system messages, each agent's resolved model settings,
loaded tool functions and structured-output models. Agents themselves hold conversation state (histories,
counters, the context): ``engine.group`` builds them from this, and ``engine.warm`` keeps built ones under
the same hash, reset at the start of every step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from runtime_core.engine.lifecycle import LifecycleCall, load_hooks, load_lifecycle
from runtime_core.engine.outputs import build_output_models
from runtime_core.engine.toolbox import LoadedTool, load_tools
from runtime_core.llm.provider import DEFAULT_MODEL
from runtime_core.workflow.context_files import context_file_value
from runtime_core.workflow.spec import (
    Agent,
    LLMConfig,
    OrchestrationStrategy,
    VariableSource,
    VariableType,
    Workflow,
)


@dataclass(frozen=True)
class ResolvedLLM:
    """An agent's model settings: its own llm_config over the orchestrator's default."""

    model: str
    base_url: str | None
    api_key_env: str | None
    temperature: float | None
    max_tokens: int | None
    timeout: float | None


@dataclass(frozen=True)
class CompiledAgent:
    name: str
    description: str
    system_message: str
    llm: ResolvedLLM
    tools: tuple[str, ...]
    output_model: type[BaseModel] | None
    max_consecutive_auto_reply: int | None
    # Context variables shown in the prompt, in the order written (engine.exposure).
    variables: tuple[str, ...] = ()
    # human_input_mode (early original dialect) as AG2 reads it: ALWAYS asks the user before each reply,
    # TERMINATE at the reply limit or on a termination message (engine.humanio.asks_human).
    human_input_mode: str = "NEVER"


@dataclass(frozen=True)
class CompiledWorkflow:
    workflow: Workflow
    agents: tuple[CompiledAgent, ...]
    tools: dict[str, LoadedTool]
    output_models: dict[str, type[BaseModel]]
    manager_llm: ResolvedLLM
    # tools.yaml lifecycle_tools and hooks.yaml functions (engine.lifecycle).
    lifecycle: tuple[LifecycleCall, ...] = ()
    hooks: tuple[tuple[str, str, Callable[..., Any]], ...] = ()

    @property
    def name(self) -> str:
        return self.workflow.name

    @property
    def strategy(self) -> OrchestrationStrategy:
        return self.workflow.orchestrator.orchestration_strategy

    def agent(self, name: str) -> CompiledAgent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def missing_config(self, environ: dict[str, str] | None = None) -> list[str]:
        """Why a session cannot start: each ``required`` config variable whose environment variable is unset
        (the original runtime refused to load such a context too)."""
        env = os.environ if environ is None else environ
        return [
            f"context variable {var.name} needs the environment variable {var.env_var or var.name} "
            "(required), which is not set"
            for var in self.workflow.context_variables
            if var.source == VariableSource.env
            and var.source_options.get("required") is True
            and env.get(var.env_var or var.name) is None
        ]

    def initial_context(self, environ: dict[str, str] | None = None) -> dict[str, Any]:
        """Context variables at the start of a session: YAML defaults, the named environment variable, or
        the file of the workflow folder (read now, then persisted with the session's context)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var in self.workflow.context_variables:
            value = var.default
            if var.source == VariableSource.env:
                raw = env.get(var.env_var or var.name)
                if raw is not None:
                    value = _coerce(raw, var.type)
            elif var.source == VariableSource.file:
                # A missing file with missing: default keeps the default (validate warned about it).
                value, _ = context_file_value(self.workflow.root, var)
            values[var.name] = value
        return values


_CACHE: dict[str, CompiledWorkflow] = {}
_LOCK = threading.Lock()


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    with _LOCK:
        cached = _CACHE.get(workflow.instance_key)
        if cached is None:
            cached = _compile(workflow)
            _CACHE[workflow.instance_key] = cached
        return cached


def _compile(workflow: Workflow) -> CompiledWorkflow:
    default = workflow.orchestrator.llm_config
    output_models = build_output_models(workflow.structured_outputs)
    agents = tuple(
        CompiledAgent(
            name=a.name,
            description=a.description or a.role or a.name,
            system_message=system_message(a),
            llm=resolve_llm(a.llm_config, default),
            # auto_tool_mode with a model: the model gets no tools; its output invokes one (engine.auto_tools)
            tools=()
            if a.auto_tool_mode and a.structured_output
            else tuple(t.name for t in workflow.tools_for(a.name)),
            output_model=output_models[a.structured_output] if a.structured_output else None,
            max_consecutive_auto_reply=a.max_consecutive_auto_reply,
            variables=tuple(a.context_variables or ()),
            human_input_mode=a.human_input_mode or "NEVER",
        )
        for a in workflow.agents
    )
    return CompiledWorkflow(
        workflow=workflow,
        agents=agents,
        tools=load_tools(workflow),
        output_models=output_models,
        manager_llm=resolve_llm(LLMConfig(), default),
        lifecycle=load_lifecycle(workflow),
        hooks=load_hooks(workflow),
    )


def system_message(agent: Agent) -> str:
    if isinstance(agent.system_message, str):
        return agent.system_message
    return "\n\n".join(f"## {s.title}\n{s.content}" for s in agent.system_message)


def resolve_llm(own: LLMConfig, default: LLMConfig) -> ResolvedLLM:
    def pick(name: str) -> Any:
        value = getattr(own, name)
        return value if value is not None else getattr(default, name)

    return ResolvedLLM(
        model=pick("model") or DEFAULT_MODEL,
        base_url=pick("base_url"),
        api_key_env=pick("api_key_env"),
        temperature=pick("temperature"),
        max_tokens=pick("max_tokens"),
        timeout=pick("timeout"),
    )


def _coerce(raw: str, kind: VariableType) -> Any:
    if kind == VariableType.int:
        return int(raw)
    if kind == VariableType.float:
        return float(raw)
    if kind == VariableType.bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw

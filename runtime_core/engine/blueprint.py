"""A workflow's AG2 agents and pattern, built from the compiled workflow (before the group chat exists).

``engine.group`` prepares the group chat from this blueprint; ``engine.baseline`` runs AG2's own loop on it.
Everything built here is session-independent except what a step resets (``Group.begin``): the context
variables' data, the random after-work's seed, and the tool run the tool wrappers report to.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import httpx
from autogen import ConversableAgent, LLMConfig
from autogen.agentchat.group import (
    AgentTarget,
    ContextExpression,
    ContextVariables,
    ExpressionContextCondition,
    OnCondition,
    OnContextCondition,
    RevertToUserTarget,
    StringLLMCondition,
    TerminateTarget,
)
from autogen.agentchat.group.patterns import AutoPattern, DefaultPattern, RoundRobinPattern
from autogen.agentchat.group.speaker_selection_result import SpeakerSelectionResult
from autogen.agentchat.group.targets.transition_target import RandomAgentTarget, TransitionTarget
from autogen.agentchat.groupchat import GroupChat

from runtime_core.engine.compiler import CompiledAgent, CompiledWorkflow, ResolvedLLM
from runtime_core.engine.exposure import exposure_hook
from runtime_core.engine.lifecycle import register_hooks
from runtime_core.engine.toolbox import ToolRun
from runtime_core.llm.meter import AGENT_HEADER, PURPOSE_HEADER
from runtime_core.llm.provider import ModelProvider
from runtime_core.session import USER_SPEAKER, SessionState
from runtime_core.workflow.spec import (
    TERMINATE_TARGET,
    USER_TARGET,
    ConditionType,
    Evaluation,
    OrchestrationStrategy,
)

SELECTOR_NAME = "speaker_selection"


class SeededRandomTarget(RandomAgentTarget):
    """AG2's random after-work drawing from an RNG seeded by session and turn: a resumed step repeats it."""

    seed: str = ""

    def reseed(self, seed: str) -> None:
        """A new step of a (possibly reused) group: its session and turn, nothing drawn yet."""
        self.seed = seed
        self.nominated_name = None

    def resolve(
        self, groupchat: GroupChat, current_agent: ConversableAgent, user_agent: ConversableAgent | None
    ) -> SpeakerSelectionResult:
        candidates = [name for name in self.agent_names if name != current_agent.name]
        self.nominated_name = random.Random(self.seed).choice(candidates)
        return SpeakerSelectionResult(agent_name=self.nominated_name)


class RoundRobinWithOverrides(RoundRobinPattern):
    """AG2's round robin, except that an after-work set in handoffs.yaml (say, Editor -> terminate) wins."""

    def _generate_handoffs(self, initial_agent: Any, agents: list[Any], user_agent: Any) -> None:
        kept = {a.name: list(a.handoffs.after_works) for a in agents if a.handoffs.after_works}
        super()._generate_handoffs(initial_agent=initial_agent, agents=agents, user_agent=user_agent)
        for agent in agents:
            if agent.name in kept:
                agent.handoffs.after_works = kept[agent.name]


@dataclass
class AfterReplyCondition:
    expression: ContextExpression
    target: TransitionTarget
    to: str
    text: str


def llm_config(
    llm: ResolvedLLM,
    provider: ModelProvider,
    http_client: httpx.Client,
    agent: str,
    purpose: str,
    response_format: Any = None,
) -> LLMConfig:
    entry: dict[str, Any] = {
        "api_type": "openai",
        "model": llm.model,
        **provider.client_options(llm.api_key_env, llm.base_url, llm.timeout),
        "http_client": http_client,
        "default_headers": {AGENT_HEADER: agent, PURPOSE_HEADER: purpose},
    }
    if llm.temperature is not None:
        entry["temperature"] = llm.temperature
    if llm.max_tokens is not None:
        entry["max_tokens"] = llm.max_tokens
    if response_format is not None:
        entry["response_format"] = response_format
    # cache_seed=None: AG2's disk cache would write ./.cache (read-only on Lambda) and replay stale answers.
    return LLMConfig(entry, cache_seed=None)


@dataclass
class Blueprint:
    """The agents and the AG2 pattern of one step, before the group chat is prepared."""

    pattern: Any
    agents: dict[str, ConversableAgent]
    user: ConversableAgent | None
    context: ContextVariables
    initial_agent: ConversableAgent
    after_reply: dict[str, list[AfterReplyCondition]]
    random_targets: list[SeededRandomTarget]

    def max_rounds(self, compiled: CompiledWorkflow) -> int:
        # run_chat's round limit never binds here: the engine enforces max_turns itself.
        return compiled.workflow.orchestrator.max_turns * 4 + 10


def build_pattern(
    compiled: CompiledWorkflow,
    state: SessionState,
    provider: ModelProvider,
    http_client: httpx.Client,
    tool_run: ToolRun,
) -> Blueprint:
    orchestrator = compiled.workflow.orchestrator
    strategy = compiled.strategy
    context = ContextVariables(data=copy.deepcopy(state.context_variables))
    agents = {spec.name: _agent(spec, compiled, provider, http_client, tool_run) for spec in compiled.agents}
    needs_user = strategy == OrchestrationStrategy.handoff_based or orchestrator.human_in_the_loop
    user = (
        ConversableAgent(
            name=USER_SPEAKER,
            human_input_mode="ALWAYS",
            llm_config=False,
            code_execution_config=False,
            description="The human user.",
        )
        if needs_user
        else None
    )
    after_reply = _handoffs(compiled, agents, user)
    initial = agents[orchestrator.initial_agent or compiled.agents[0].name]
    agent_list = list(agents.values())
    group_after_work: TransitionTarget = (
        RevertToUserTarget() if user is not None and orchestrator.human_in_the_loop else TerminateTarget()
    )
    random_targets: list[SeededRandomTarget] = []
    manager_args: dict[str, Any] = {"llm_config": False}
    common: dict[str, Any] = {
        "initial_agent": initial,
        "agents": agent_list,
        "user_agent": user,
        "context_variables": context,
    }
    if strategy == OrchestrationStrategy.auto:
        manager_args["llm_config"] = llm_config(
            compiled.manager_llm, provider, http_client, SELECTOR_NAME, "speaker_selection"
        )
        pattern: Any = AutoPattern(**common, group_manager_args=manager_args)
    elif strategy == OrchestrationStrategy.round_robin:
        pattern = RoundRobinWithOverrides(
            **common, group_manager_args=manager_args, group_after_work=group_after_work
        )
    else:
        if strategy == OrchestrationStrategy.random:
            pool: list[ConversableAgent] = agent_list + ([user] if user is not None else [])
            for agent in pool:
                target = SeededRandomTarget(agents=[a for a in pool if a is not agent])
                target.reseed(random_seed(state))
                random_targets.append(target)
                agent.handoffs.set_after_work(target)
        pattern = DefaultPattern(**common, group_manager_args=manager_args, group_after_work=group_after_work)
    return Blueprint(pattern, agents, user, context, initial, after_reply, random_targets)


def random_seed(state: SessionState) -> str:
    """The random after-work draws from this: the same session at the same turn draws the same agent."""
    return f"{state.session_id}:{state.turn}"


def _agent(
    spec: CompiledAgent,
    compiled: CompiledWorkflow,
    provider: ModelProvider,
    http_client: httpx.Client,
    tool_run: ToolRun,
) -> ConversableAgent:
    purpose = "structured_output" if spec.output_model is not None else "reply"
    kwargs: dict[str, Any] = {}
    if spec.max_consecutive_auto_reply is not None:
        kwargs["max_consecutive_auto_reply"] = spec.max_consecutive_auto_reply
    agent = ConversableAgent(
        name=spec.name,
        system_message=spec.system_message,
        description=spec.description,
        llm_config=llm_config(spec.llm, provider, http_client, spec.name, purpose, spec.output_model),
        # ALWAYS / TERMINATE: AG2 reads the user's answer before the reply when its mode says so
        # (engine.pausing._asks_user_first ends the step with the question; the answer's step supplies it).
        human_input_mode=spec.human_input_mode,
        code_execution_config=False,
        **kwargs,
    )
    if spec.variables:
        agent.register_hook("update_agent_state", exposure_hook(spec.system_message, spec.variables))
    register_hooks(agent, compiled.hooks)
    for tool_name in spec.tools:
        loaded = compiled.tools[tool_name]
        description = loaded.spec.description or (loaded.function.__doc__ or "").strip()
        agent.register_for_llm(name=tool_name, description=description, silent_override=True)(
            tool_run.wrap(loaded)
        )
    return agent


def handoff_target(to: str, agents: dict[str, ConversableAgent]) -> TransitionTarget:
    if to == USER_TARGET:
        return RevertToUserTarget()
    if to == TERMINATE_TARGET:
        return TerminateTarget()
    return AgentTarget(agents[to])


def _handoffs(
    compiled: CompiledWorkflow, agents: dict[str, ConversableAgent], user: ConversableAgent | None
) -> dict[str, list[AfterReplyCondition]]:
    after_reply: dict[str, list[AfterReplyCondition]] = {}
    for h in compiled.workflow.handoffs:
        target = handoff_target(h.to_agent, agents)
        kind = h.kind()
        if h.from_agent == USER_TARGET:
            # Rules from the user decide who speaks after the user's message: AG2 reads the user agent's
            # after-works then. Model-judged ones are loaded but not run (runtime_core.workflow.pending).
            if user is not None and kind != ConditionType.llm:
                condition = (
                    ExpressionContextCondition(expression=ContextExpression(h.expression))
                    if h.expression
                    else None
                )
                user.handoffs.add_after_work(OnContextCondition(target=target, condition=condition))
            continue
        agent = agents[h.from_agent]
        if kind == ConditionType.llm:
            agent.handoffs.add_llm_condition(
                OnCondition(target=target, condition=StringLLMCondition(prompt=h.condition or h.description))
            )
        elif kind == ConditionType.context and h.evaluate == Evaluation.after_reply:
            after_reply.setdefault(h.from_agent, []).append(
                AfterReplyCondition(
                    ContextExpression(h.expression or "True"), target, h.to_agent, h.expression or ""
                )
            )
        elif kind == ConditionType.context:
            agent.handoffs.add_context_condition(
                OnContextCondition(
                    target=target,
                    condition=ExpressionContextCondition(
                        expression=ContextExpression(h.expression or "True")
                    ),
                )
            )
        elif h.expression:
            agent.handoffs.add_after_work(
                OnContextCondition(
                    target=target,
                    condition=ExpressionContextCondition(expression=ContextExpression(h.expression)),
                )
            )
        else:
            # Kept after any conditional after-work of the same agent (AG2 orders them so).
            agent.handoffs.add_after_work(OnContextCondition(target=target, condition=None))
    return after_reply

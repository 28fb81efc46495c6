"""A fresh AG2 group chat for one step, rebuilt from the session state.

How a step resumes exactly (the trick, proven by a prototype on ag2 0.14; see also ``engine.step``):

1. Agents, handoffs and the pattern are built fresh from the compiled workflow; nothing mutable is shared
   between sessions or steps.
2. ``pattern.prepare_group_chat(max_rounds=..., messages=[first_message])`` gets only the first message, so
   the pattern creates the same participants (and, without a user agent, the same temporary ``_User``) as
   the original run did.
3. ``replay`` pushes every persisted raw reply, in order, through the path ``GroupChatManager.run_chat`` uses:
   the speaker sends it to the manager, the manager appends it to ``groupchat.messages`` and forwards it to
   every other agent. Every agent's private history is then byte for byte what it was (AG2's own
   ``resume()`` is lossy: it feeds back the group form with ``name`` added and ``None`` turned into "None").
4. Hidden state is restored from ``state.engine``: each agent's ``_consecutive_auto_reply_counter``. The
   pattern's transition function hides a ``use_initial_agent`` flag in a closure (True again in a fresh
   process), so the engine replaces it with one driven by the persisted ``started`` flag that calls
   ``determine_next_agent`` itself.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

from autogen import ConversableAgent, LLMConfig
from autogen.agentchat.agent import Agent
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
from autogen.agentchat.group.group_tool_executor import GroupToolExecutor
from autogen.agentchat.group.group_utils import determine_next_agent
from autogen.agentchat.group.patterns import AutoPattern, DefaultPattern, RoundRobinPattern
from autogen.agentchat.group.speaker_selection_result import SpeakerSelectionResult
from autogen.agentchat.group.targets.transition_target import RandomAgentTarget, TransitionTarget
from autogen.agentchat.groupchat import GroupChat, GroupChatManager

from runtime_core.engine.compiler import CompiledAgent, CompiledWorkflow, ResolvedLLM
from runtime_core.engine.toolbox import ToolRun
from runtime_core.llm.meter import AGENT_HEADER, PURPOSE_HEADER, CallMeter
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


@dataclass
class Group:
    compiled: CompiledWorkflow
    agents: dict[str, ConversableAgent]
    user: ConversableAgent | None
    executor: GroupToolExecutor
    groupchat: GroupChat
    manager: GroupChatManager
    context: ContextVariables
    initial_agent: ConversableAgent
    group_after_work: TransitionTarget
    tool_run: ToolRun
    after_reply: dict[str, list[AfterReplyCondition]] = field(default_factory=dict)
    group_agent_names: list[str] = field(default_factory=list)

    def participant(self, name: str) -> Agent:
        if name == self.manager.name:
            return self.manager
        agent = self.groupchat.agent_by_name(name)
        if agent is None:
            raise KeyError(f"no participant named {name!r} in workflow {self.compiled.name}")
        return agent

    def commit(self, speaker: Agent, raw: Any) -> dict[str, Any]:
        """One turn through run_chat's path: speaker -> manager, which appends it and forwards it to all."""
        speaker.send(copy.deepcopy(raw), self.manager, request_reply=False, silent=True)
        message = self.manager.last_message(speaker)
        self.groupchat.append(message, speaker)
        for agent in self.groupchat.agents:
            if agent is not speaker:
                self.manager.send(message, agent, request_reply=False, silent=True)
        return message

    def select_next(self, last_speaker: Agent, started: bool) -> Agent:
        """The group's own speaker selection, with ``use_initial_agent`` from the persisted flag.

        Raises AG2's NoEligibleSpeakerError when the transition says terminate.
        """

        def transition(last: Agent, groupchat: GroupChat) -> Agent | str | None:
            return determine_next_agent(
                last_speaker=last,
                groupchat=groupchat,
                initial_agent=self.initial_agent,
                use_initial_agent=not started,
                tool_executor=self.executor,
                group_agent_names=self.group_agent_names,
                user_agent=self.user,
                group_after_work=self.group_after_work,
            )

        self.groupchat.speaker_selection_method = transition
        return self.groupchat.select_speaker(last_speaker, self.manager)

    def counters(self) -> dict[str, dict[str, int]]:
        """Every participant's consecutive-auto-reply counters, by name (AG2 keys them by agent object)."""
        out: dict[str, dict[str, int]] = {}
        for agent in [*self.groupchat.agents, self.manager]:
            counts = {peer.name: n for peer, n in agent._consecutive_auto_reply_counter.items() if n}
            if counts:
                out[agent.name] = counts
        return out

    def restore_counters(self, counters: dict[str, dict[str, int]]) -> None:
        for name, counts in counters.items():
            agent = self.participant(name)
            for peer, n in counts.items():
                agent._consecutive_auto_reply_counter[self.participant(peer)] = n


def llm_config(
    llm: ResolvedLLM,
    provider: ModelProvider,
    meter: CallMeter,
    agent: str,
    purpose: str,
    response_format: Any = None,
) -> LLMConfig:
    entry: dict[str, Any] = {
        "api_type": "openai",
        "model": llm.model,
        **provider.client_options(llm.api_key_env, llm.base_url, llm.timeout),
        "http_client": meter.http_client,
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

    def max_rounds(self, compiled: CompiledWorkflow) -> int:
        # run_chat's round limit never binds here: the engine enforces max_turns itself.
        return compiled.workflow.orchestrator.max_turns * 4 + 10


def build_pattern(
    compiled: CompiledWorkflow,
    state: SessionState,
    provider: ModelProvider,
    meter: CallMeter,
    tool_run: ToolRun,
) -> Blueprint:
    orchestrator = compiled.workflow.orchestrator
    strategy = compiled.strategy
    context = ContextVariables(data=copy.deepcopy(state.context_variables))
    agents = {spec.name: _agent(spec, compiled, provider, meter, tool_run) for spec in compiled.agents}
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
    after_reply = _handoffs(compiled, agents)
    initial = agents[orchestrator.initial_agent or compiled.agents[0].name]
    agent_list = list(agents.values())
    group_after_work: TransitionTarget = (
        RevertToUserTarget() if user is not None and orchestrator.human_in_the_loop else TerminateTarget()
    )
    manager_args: dict[str, Any] = {"llm_config": False}
    common: dict[str, Any] = {
        "initial_agent": initial,
        "agents": agent_list,
        "user_agent": user,
        "context_variables": context,
    }
    if strategy == OrchestrationStrategy.auto:
        manager_args["llm_config"] = llm_config(
            compiled.manager_llm, provider, meter, SELECTOR_NAME, "speaker_selection"
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
                others = [a for a in pool if a is not agent]
                agent.handoffs.set_after_work(
                    SeededRandomTarget(agents=others, seed=f"{state.session_id}:{state.turn}")
                )
        pattern = DefaultPattern(**common, group_manager_args=manager_args, group_after_work=group_after_work)
    return Blueprint(pattern, agents, user, context, initial, after_reply)


def build_group(
    compiled: CompiledWorkflow,
    state: SessionState,
    provider: ModelProvider,
    meter: CallMeter,
    first_message: dict[str, Any],
    tool_run: ToolRun,
) -> Group:
    blueprint = build_pattern(compiled, state, provider, meter, tool_run)
    (
        _,
        _,
        _,
        _,
        _,
        resolved_after_work,
        executor,
        groupchat,
        manager,
        _,
        _,
        group_agent_names,
        _,
    ) = blueprint.pattern.prepare_group_chat(
        max_rounds=blueprint.max_rounds(compiled), messages=[first_message]
    )
    # Tool functions learn which call they execute (for their idempotency key) through the executor.
    tool_run.attach(executor)
    return Group(
        compiled=compiled,
        agents=blueprint.agents,
        user=blueprint.user,
        executor=executor,
        groupchat=groupchat,
        manager=manager,
        context=blueprint.context,
        initial_agent=blueprint.initial_agent,
        group_after_work=resolved_after_work,
        tool_run=tool_run,
        after_reply=blueprint.after_reply,
        group_agent_names=group_agent_names,
    )


def _agent(
    spec: CompiledAgent,
    compiled: CompiledWorkflow,
    provider: ModelProvider,
    meter: CallMeter,
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
        llm_config=llm_config(spec.llm, provider, meter, spec.name, purpose, spec.output_model),
        human_input_mode="NEVER",
        code_execution_config=False,
        **kwargs,
    )
    for tool_name in spec.tools:
        loaded = compiled.tools[tool_name]
        description = loaded.spec.description or (loaded.function.__doc__ or "").strip()
        agent.register_for_llm(name=tool_name, description=description, silent_override=True)(
            tool_run.wrap(loaded)
        )
    return agent


def _target(to: str, agents: dict[str, ConversableAgent]) -> TransitionTarget:
    if to == USER_TARGET:
        return RevertToUserTarget()
    if to == TERMINATE_TARGET:
        return TerminateTarget()
    return AgentTarget(agents[to])


def _handoffs(
    compiled: CompiledWorkflow, agents: dict[str, ConversableAgent]
) -> dict[str, list[AfterReplyCondition]]:
    after_reply: dict[str, list[AfterReplyCondition]] = {}
    for h in compiled.workflow.handoffs:
        agent = agents[h.from_agent]
        target = _target(h.to_agent, agents)
        kind = h.kind()
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
            agent.handoffs.set_after_work(target)
    return after_reply

"""A step's AG2 group chat: built from the compiled workflow, reset at the start of each step, replayed.

How a step resumes exactly (the trick, proven by a prototype on ag2 0.14; see also ``engine.step``):

1. Agents, handoffs and the pattern are built from the compiled workflow (``engine.blueprint``). A warm
   process keeps built groups and reuses them (``engine.warm``); ``Group.begin`` then empties everything a
   step changes, so a reused group starts each step exactly as a fresh one: nothing of another session or
   step survives in it.
2. ``pattern.prepare_group_chat(max_rounds=..., messages=[first_message])`` gets only the first message, so
   the pattern creates the same participants (and, without a user agent, the same temporary ``_User``) as
   the original run did. (Only the first message's shape matters here, never its text: see ``warm``.)
3. ``commit`` pushes every persisted raw reply, in order, through the path ``GroupChatManager.run_chat``
   uses: the speaker sends it to the manager, the manager appends it to ``groupchat.messages`` and forwards
   it to every other agent. Every agent's private history is then byte for byte what it was (AG2's own
   ``resume()`` is lossy: it feeds back the group form with ``name`` added and ``None`` turned into "None").
4. Hidden state is restored from ``state.engine``: each agent's ``_consecutive_auto_reply_counter``. The
   pattern's transition function hides a ``use_initial_agent`` flag in a closure (True again in a fresh
   process), so the engine replaces it with one driven by the persisted ``started`` flag that calls
   ``determine_next_agent`` itself.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from autogen import ConversableAgent
from autogen.agentchat.agent import Agent
from autogen.agentchat.group import ContextVariables
from autogen.agentchat.group.group_tool_executor import GroupToolExecutor
from autogen.agentchat.group.group_utils import determine_next_agent
from autogen.agentchat.group.targets.transition_target import TransitionTarget
from autogen.agentchat.groupchat import GroupChat, GroupChatManager

from runtime_core.engine.blueprint import (
    AfterReplyCondition,
    SeededRandomTarget,
    build_pattern,
    random_seed,
)
from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.history import detach
from runtime_core.engine.runtime_context import runtime_values
from runtime_core.engine.toolbox import ToolRun, ui_displays
from runtime_core.llm.meter import CallMeter, MeteredClient
from runtime_core.llm.provider import DEFAULT_TIMEOUT, ModelProvider
from runtime_core.session import SessionState


@dataclass(frozen=True)
class Built:
    """What AG2 replaces (not mutates) during a step, as the build left it: an agent with LLM handoffs gets
    its tool list and OpenAI client rebuilt before every reply (``update_conditional_functions``), and the
    group chat's speaker selection is the engine's closure after a selection."""

    clients: dict[str, Any]
    config_tools: dict[str, list[Any]]
    tools: dict[str, list[Any]]
    speaker_selection: Any
    # The exposure hook (engine.exposure) rewrites a system message before each reply.
    system_messages: dict[str, str]

    @classmethod
    def of(cls, agents: list[ConversableAgent], groupchat: GroupChat) -> Built:
        with_llm = [a for a in agents if a.llm_config]
        return cls(
            clients={a.name: a.client for a in with_llm},
            config_tools={a.name: list(a.llm_config["tools"]) for a in with_llm if "tools" in a.llm_config},
            tools={a.name: list(a._tools) for a in agents},
            speaker_selection=groupchat.speaker_selection_method,
            system_messages={a.name: a.system_message for a in agents},
        )

    def restore(self, agents: list[ConversableAgent], groupchat: GroupChat) -> None:
        for agent in agents:
            if agent.name in self.config_tools:
                agent.llm_config["tools"] = list(self.config_tools[agent.name])
            if agent.name in self.clients:
                agent.client = self.clients[agent.name]
            agent._tools = list(self.tools[agent.name])
            if agent.system_message != self.system_messages[agent.name]:
                agent.update_system_message(self.system_messages[agent.name])
        groupchat.speaker_selection_method = self.speaker_selection


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
    # The client under every agent's OpenAI client: bound to the step's meter by ``begin``.
    http_client: MeteredClient
    built: Built
    after_reply: dict[str, list[AfterReplyCondition]] = field(default_factory=dict)
    group_agent_names: list[str] = field(default_factory=list)
    random_targets: list[SeededRandomTarget] = field(default_factory=list)

    # ---- one step on this group -------------------------------------------------------------------------
    def begin(self, state: SessionState, meter: CallMeter) -> None:
        """Start a step: every piece of state a step changes goes back to what a fresh build has, then the
        session's context, the random draw's seed and the step's meter go in.

        ``tests/engine/test_engine_warm.py`` compares every attribute of a reset group with a fresh one.
        """
        self._empty()
        runtime = self.reset_context(state)
        for target in self.random_targets:
            target.reseed(random_seed(state))
        self.tool_run.reset(state.session_id, runtime)
        self.http_client.bind(meter)

    def reset_context(self, state: SessionState) -> dict[str, str]:
        """The session's persisted context, with the runtime's keys; returns those keys."""
        runtime = runtime_values(state, self.compiled.name)
        # The stored context never decides the runtime's keys: they are put over it from the session.
        self.context.data = {**copy.deepcopy(state.context_variables), **runtime}
        return runtime

    def end(self, *, scrub: bool) -> None:
        """The step is over: its meter is no longer reachable from the agents. ``scrub`` (a group going back
        to the pool) also empties it now, so an idle group holds nothing of the session it served: no
        transcript copies pinned in memory, no data of one tenant waiting for the next step."""
        self.http_client.release()
        if scrub:
            self._empty()
            self.context.data = {}
            self.tool_run.reset("")

    def _empty(self) -> None:
        """Agents keep private histories, reply counters and flags, clients keep usage and response metadata,
        the group chat its messages, the tool executor a pending handoff target and a tool call's
        originator; what AG2 replaced during a step goes back to what the build made (``Built``). The
        context object is kept (the executor's tool copies are bound to it): its data is replaced."""
        participants = self.participants()
        self.built.restore(participants, self.groupchat)
        for agent in participants:
            agent._oai_messages.clear()
            agent._consecutive_auto_reply_counter.clear()
            agent._max_consecutive_auto_reply_dict.clear()
            agent.reply_at_receive.clear()
            agent._human_input.clear()
            client = agent.client
            if client is not None:
                client.clear_usage_summary()
                client._response_metadata.clear()
                client._response_buffer.clear()
        self.groupchat.messages.clear()
        self.executor.clear_next_target()
        self.executor.clear_tool_call_originator()

    def participants(self) -> list[ConversableAgent]:
        return [*self.groupchat.agents, self.manager]

    # ---- the chat ----------------------------------------------------------------------------------------
    def participant(self, name: str) -> Agent:
        if name == self.manager.name:
            return self.manager
        agent = self.groupchat.agent_by_name(name)
        if agent is None:
            raise KeyError(f"no participant named {name!r} in workflow {self.compiled.name}")
        return agent

    def commit(self, speaker: Agent, raw: Any) -> dict[str, Any]:
        """One turn through run_chat's path: speaker -> manager, which appends it and forwards it to all."""
        speaker.send(detach(raw), self.manager, request_reply=False, silent=True)
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
        for agent in self.participants():
            counts = {peer.name: n for peer, n in agent._consecutive_auto_reply_counter.items() if n}
            if counts:
                out[agent.name] = counts
        return out

    def restore_counters(self, counters: dict[str, dict[str, int]]) -> None:
        for name, counts in counters.items():
            agent = self.participant(name)
            for peer, n in counts.items():
                agent._consecutive_auto_reply_counter[self.participant(peer)] = n


def build_group(
    compiled: CompiledWorkflow,
    state: SessionState,
    provider: ModelProvider,
    first_message: dict[str, Any],
) -> Group:
    """A new group for ``compiled``; ``begin`` it before a step uses it."""
    tool_run = ToolRun(session_id=state.session_id)
    http_client = MeteredClient(DEFAULT_TIMEOUT)
    blueprint = build_pattern(compiled, state, provider, http_client, tool_run)
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
    tool_run.context = blueprint.context
    tool_run.displays = ui_displays(compiled.tools)
    participants = [*groupchat.agents, manager]
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
        http_client=http_client,
        built=Built.of(participants, groupchat),
        after_reply=blueprint.after_reply,
        group_agent_names=group_agent_names,
        random_targets=blueprint.random_targets,
    )

"""The turn a step runs on AG2's group chat: who speaks, what a reply leads to, and how the step ends.

``engine.step`` wraps this with what every step needs around it (input checks, the model meter, usage, the
result or the failure); the rules of what one step does are in its docstring. This module holds the
orchestration itself: rebuilding the chat, the agent's reply, the tools of a recorded reply, selection ahead,
and the endings (awaiting input, completion).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from runtime_core.engine.auto_tools import run_auto_tool
from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.greeting import greet, greets
from runtime_core.engine.history import detach, fork
from runtime_core.engine.humanio import HUMANS, TEMP_USER, StepIO
from runtime_core.engine.lifecycle import LIFECYCLE_DONE, run_lifecycle
from runtime_core.engine.pausing import TOOLS_PENDING, UI_ANSWERS, Asking, Finished
from runtime_core.engine.report import Events, emit_context, normalize, reply_events, tool_result_events
from runtime_core.engine.runtime_context import without_runtime
from runtime_core.engine.toolbox import ToolRun
from runtime_core.engine.triggers import agent_text_updates
from runtime_core.events import Handoff, RunCompleted, SpeakerSelected, UserMessage
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import ModelProvider
from runtime_core.session import (
    USER_SPEAKER,
    ChatMessage,
    SessionState,
    SessionStatus,
    ToolCall,
    UserInput,
)
from runtime_core.telemetry import tracing
from runtime_core.workflow.spec import OrchestrationStrategy, StartupMode, Workflow
from runtime_core.workflow.spec_base import LifecycleTrigger

if TYPE_CHECKING:
    from runtime_core.engine.group import Group
    from runtime_core.engine.warm import Lease

DEFAULT_INITIAL_MESSAGE = "Begin."


class Turn(Asking):
    """One step's orchestration state and rules; ``engine.step`` runs it."""

    def __init__(
        self, state: SessionState, workflow: Workflow, model: ModelProvider, user_input: UserInput | None
    ) -> None:
        self.original = state
        # The step's working copy; the messages on record are shared, never changed (engine.history).
        self.state = fork(state)
        self.workflow = workflow
        self.model = model
        self.user_input = user_input
        self.out = Events(state)
        # The context variables as the client last heard of them (context_updated), from the step's start.
        self.reported_context: dict[str, Any] = state.context_variables
        self.new_messages: list[ChatMessage] = []
        self.io = StepIO()
        self.compiled: CompiledWorkflow
        self.meter: CallMeter | None = None
        self.group: Group | None = None
        # The group this step leased (engine.warm); ``engine.step`` gives it back when the step is over.
        self.lease: Lease | None = None
        # The step's closing event (input_request / run_completed): emitted last, after the usage event.
        self.final: tuple[type[Any], dict[str, Any]] | None = None
        # Set once this step reported how the turn passes on, so selection does not report it again.
        self.handoff_reported = False
        # Index of the first transcript entry of the turn this step works on (for the llm handoff report).
        self.turn_start = len(state.messages)

    @property
    def chat(self) -> Group:
        """The step's AG2 group chat (built by ``_turn``)."""
        assert self.group is not None
        return self.group

    @property
    def tool_run(self) -> ToolRun:
        """This step's tool executions and UI answer (the group's, reset when the step began)."""
        return self.chat.tool_run

    # ---- the turn ----------------------------------------------------------------------------------------
    def _turn(self) -> None:
        from runtime_core.engine.warm import lease_group

        assert self.meter is not None
        first = self._first_message()
        self.lease = lease_group(self.compiled, self.state, self.model, self.meter, first)
        self.group = self.lease.group
        for message in self.state.messages:
            self.chat.commit(self.chat.participant(message.speaker), message.raw)
        # A process_message_before_send hook ran again on the replay: what it did to the context counted
        # when the message was first sent (engine.lifecycle).
        if self.compiled.hooks:
            self.chat.reset_context(self.state)
        self.chat.restore_counters(self.state.engine.get("counters", {}))
        self.tool_run.interactions.answers = self.state.engine.get(UI_ANSWERS, {})

        pending = self.state.pending_input
        if not self.state.messages and greets(self):
            greet(self)
        elif not self.state.messages:
            self.state.pending_input = None
            speaker = self._first_speaker()
            self._commit(speaker, first)
            self._user_message_event(first["content"])
            self._manager_ends(speaker.name)
            self._agent_turn(self._select(speaker))
        elif pending is not None and pending.kind == "user_turn" and self._agent_asked(pending):
            self._agent_turn(self._consume_agent_input())
        elif pending is not None and pending.kind == "user_turn":
            self._agent_turn(self._consume_user_turn())
        elif pending is not None:
            self._consume_ui_answer()
        elif TOOLS_PENDING in self.state.engine:
            self._run_pending_tools()
        else:
            self._agent_turn(self.chat.participant(self.state.next_speaker or ""))

    def _first_message(self) -> dict[str, Any]:
        if self.state.messages:
            return detach(self.state.messages[0].raw)
        orchestrator = self.workflow.orchestrator
        if orchestrator.startup_mode == StartupMode.user_first:
            text = self.user_input.text if self.user_input else ""
        else:
            text = orchestrator.initial_message or DEFAULT_INITIAL_MESSAGE
        return {"role": "user", "content": text}

    def _first_speaker(self) -> Any:
        return self.chat.user or self.chat.participant(TEMP_USER)

    def _consume_user_turn(self) -> Any:
        assert self.user_input is not None
        self.state.pending_input = None
        human = self.chat.participant(self.state.next_speaker or USER_SPEAKER)
        self.io.supply(self.user_input.text)
        reply = human.generate_reply(sender=self.chat.manager)
        if reply is None:
            self._complete("completed", "the user ended the conversation")
        self._commit(human, reply)
        self._user_message_event(self.user_input.text)
        self._manager_ends(human.name)
        # Imported here: both import AG2 at module level, and AG2 is loaded once, under
        # ``loading.load_engine``'s lock, when the first step runs, never by importing the engine.
        from runtime_core.engine.blueprint import handoff_target
        from runtime_core.engine.user_judge import judge_user_message

        judged = judge_user_message(self)
        if judged is not None:
            rule, function = judged
            self.chat.executor.set_next_target(handoff_target(rule.to_agent, self.chat.agents))
            self.out.emit(Handoff, from_agent=USER_SPEAKER, to=rule.to_agent, reason=f"llm: {function}")
            self.handoff_reported = True
            self.state.started = True
        return self._select(human)

    def _run_pending_tools(self) -> None:
        """The tools of the reply the previous step recorded, then what follows them in the same turn."""
        pending = self.state.engine.pop(TOOLS_PENDING)
        caller = str(pending["caller"])
        self.handoff_reported = bool(pending.get("handoff_reported", False))
        self._execute_tools(caller)
        self._check_termination(caller, self.new_messages[-1])
        if self.state.turn >= self.workflow.orchestrator.max_turns:
            self._complete("max_turns", f"max_turns ({self.workflow.orchestrator.max_turns}) reached")
        self._after_reply(caller)
        self._hand_on(self._select(self.chat.participant(caller)))

    def _agent_turn(self, speaker: Any) -> None:
        if speaker.name in HUMANS:
            self._await_user(agent=speaker.name)
            return
        if self._asks_user_first(speaker.name):
            return
        if self.state.turn >= self.workflow.orchestrator.max_turns:
            self._complete("max_turns", f"max_turns ({self.workflow.orchestrator.max_turns}) reached")
        self.handoff_reported = False
        self.turn_start = len(self.state.messages)
        run_lifecycle(self.compiled.lifecycle, LifecycleTrigger.before_agent, self.chat.context, speaker.name)
        with tracing.span(f"invoke_agent {speaker.name}", self._turn_attributes(speaker.name)):
            reply = speaker.generate_reply(sender=self.chat.manager)
        self.state.turn += 1
        if reply is None:
            self._complete("completed", self._no_reply_reason(speaker.name))
        self._commit(speaker, reply)
        run_lifecycle(self.compiled.lifecycle, LifecycleTrigger.after_agent, self.chat.context, speaker.name)
        self._set_context({})
        chat = self.new_messages[-1]
        updates, hidden = agent_text_updates(self.workflow, speaker.name, chat.content)
        self._set_context(updates)
        if reply_events(
            self.out, self.compiled, speaker.name, chat, self.state.turn, self._is_handoff, hidden=hidden
        ):
            self.handoff_reported = True
        if not chat.tool_calls:  # an auto_tool_mode agent's output invokes its tool (a UI tool may wait)
            run_auto_tool(self, speaker.name, chat)
        else:
            ui = self._ui_calls(chat)
            if ui:
                self._await_ui(speaker.name, ui[0])
                return
            # The reply is on record before any tool runs: the next step runs them.
            self.state.engine[TOOLS_PENDING] = {
                "caller": speaker.name,
                "handoff_reported": self.handoff_reported,
            }
            self.state.next_speaker = self.chat.executor.name
            return
        self._reply_done(speaker.name, chat)

    def _reply_done(self, agent: str, chat: ChatMessage) -> None:
        """A reply without tool calls (its auto tool, if any, done): the turn passes on."""
        self._check_termination(agent, chat)
        if self.state.turn >= self.workflow.orchestrator.max_turns:
            # Checked before selecting: an auto selection would be a model call nobody needs.
            self._complete("max_turns", f"max_turns ({self.workflow.orchestrator.max_turns}) reached")
        self._after_reply(agent)
        self._hand_on(self._select(self.chat.participant(agent)))

    def _turn_attributes(self, agent: str) -> dict[str, Any]:
        return {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": self.state.session_id,
            "mozaiks.workflow": self.workflow.name,
            "mozaiks.turn": self.state.turn + 1,
        }

    def _hand_on(self, next_agent: Any) -> None:
        if next_agent.name in HUMANS:
            self._await_user(agent=next_agent.name)

    def _caller_reply(self) -> ChatMessage:
        """The reply whose tool calls the executor is about to run: the last agent message with calls."""
        for message in reversed(self.state.messages):
            if message.role == "assistant" and message.tool_calls:
                return message
        raise RuntimeError("no reply with tool calls to execute")

    def _execute_tools(self, caller: str) -> None:
        calls = self._caller_reply()
        self.turn_start = calls.seq
        self.tool_run.caller, self.tool_run.caller_seq = caller, calls.seq
        executor = self.chat.executor
        reply = executor.generate_reply(sender=self.chat.manager)
        if self.tool_run.waiting is not None:
            self._await_tool_wait(caller, calls)
        if reply is None:
            self._complete("completed", "the tool executor gave no reply")
        self._commit(executor, reply)
        # The reply's tools are done: its answers are spent.
        self.state.engine.pop(UI_ANSWERS, None)
        tool_result_events(
            self.out, self.compiled, calls, self.new_messages[-1], self.tool_run.executions, self._is_handoff
        )
        self._report_context()  # what the tools changed, before whatever their results lead to

    def _report_context(self) -> None:
        if emit_context(self.out, self.workflow, self.reported_context, self.state.context_variables):
            self.reported_context = copy.deepcopy(self.state.context_variables)

    def _is_handoff(self, agent: str, function: str) -> bool:
        """Whether ``function`` is one of ``agent``'s AG2 llm handoff (``transfer_to_*``) functions."""
        if function in self.compiled.tools:
            return False
        return bool(self.chat.executor.function_is_agent_llm_handoff(agent, function))

    def _after_reply(self, agent: str) -> None:
        """Context handoffs with ``evaluate: after_reply``, checked by the engine after the agent's turn."""
        executor = self.chat.executor
        if executor.has_next_target():
            return
        for condition in self.chat.after_reply.get(agent, []):
            if condition.expression.evaluate(self.chat.context):
                executor.set_next_target(condition.target)
                self.out.emit(Handoff, from_agent=agent, to=condition.to, reason=f"context: {condition.text}")
                self.handoff_reported = True
                return

    def _select(self, last_speaker: Any) -> Any:
        from autogen.agentchat.groupchat import NoEligibleSpeakerError

        transfer = self._transfer_target()
        origin = self.new_messages[-1].speaker if self.new_messages else last_speaker.name
        try:
            chosen = self.chat.select_next(last_speaker, self.state.started)
        except NoEligibleSpeakerError:
            self.state.started = True
            # The end is a handoff too (to "terminate"): reported like one, before run_completed.
            if transfer is not None:
                self.out.emit(Handoff, from_agent=transfer[0], to="terminate", reason=f"llm: {transfer[1]}")
            elif not self.handoff_reported and origin in {a.name for a in self.compiled.agents}:
                self.out.emit(Handoff, from_agent=origin, to="terminate", reason="after_work")
            self._complete("completed", "the workflow reached a terminate target")
        self.state.started = True
        self.state.next_speaker = chosen.name
        if transfer is not None:
            self.out.emit(Handoff, from_agent=transfer[0], to=chosen.name, reason=f"llm: {transfer[1]}")
        elif not self.handoff_reported and self._is_after_work(origin, chosen.name):
            self.out.emit(Handoff, from_agent=origin, to=chosen.name, reason="after_work")
        if chosen.name not in HUMANS and chosen is not self.chat.executor:
            self.out.emit(SpeakerSelected, agent=chosen.name, turn=self.state.turn + 1)
        return chosen

    def _transfer_target(self) -> tuple[str, str] | None:
        """(agent, function) when this turn's agent message called an AG2 handoff function."""
        for message in reversed(self.state.messages[self.turn_start :]):
            if message.role == "assistant":
                for call in message.tool_calls:
                    if self._is_handoff(message.speaker, call.name):
                        return message.speaker, call.name
                return None
        return None

    def _is_after_work(self, origin: str, chosen: str) -> bool:
        return (
            self.compiled.strategy == OrchestrationStrategy.handoff_based
            and origin in {a.name for a in self.compiled.agents}
            and chosen != origin
        )

    # ---- endings -----------------------------------------------------------------------------------------
    def _complete(self, status: str, reason: str) -> None:
        self.state.status = SessionStatus.completed
        self.state.next_speaker = None
        self.state.pending_input = None
        self.final = (RunCompleted, {"status": status, "reason": reason})
        done = self.state.engine.setdefault(LIFECYCLE_DONE, [])
        if self.group is not None and "after_chat" not in done:
            done.append("after_chat")
            run_lifecycle(self.compiled.lifecycle, LifecycleTrigger.after_chat, self.chat.context)
            self._set_context({})
        raise Finished

    def _check_termination(self, agent: str, message: ChatMessage) -> None:
        content = message.content or ""
        keywords = self.workflow.orchestrator.termination_keywords
        hit = next((k for k in keywords if k in content), None)
        if hit is not None:
            self._complete("completed", f"{agent} said {hit!r}")
        self._manager_ends(agent)

    def _manager_ends(self, speaker: str) -> None:
        """AG2's group chat ends on any message its manager deems a termination message, the user's too."""
        if self.chat.manager._is_termination_msg(self.chat.groupchat.messages[-1]):
            self._complete("completed", f"{speaker} ended the conversation")

    # ---- transcript --------------------------------------------------------------------------------------
    def _commit(self, speaker: Any, reply: Any) -> dict[str, Any]:
        raw = normalize(reply)
        message = self.chat.commit(speaker, raw)
        if speaker.name in HUMANS:
            role = "user"
        elif speaker is self.chat.executor:
            role = "tool"
        else:
            role = "assistant"
        body = raw if isinstance(raw, dict) else {"content": raw}
        content = body.get("content")
        if speaker.hook_lists["process_message_before_send"] and isinstance(message.get("content"), str):
            # A hooks.yaml hook changed the message on its way out: the group (and the user) see that; the
            # raw reply stays as generated, and the hook redoes the change on replay.
            content = message["content"]
        responses = body.get("tool_responses") or []
        chat = ChatMessage(
            seq=len(self.state.messages),
            speaker=speaker.name,
            role=role,
            content=content if isinstance(content, str | None) else json.dumps(content),
            tool_calls=[
                ToolCall(
                    id=c["id"], name=c["function"]["name"], arguments=c["function"].get("arguments") or ""
                )
                for c in body.get("tool_calls") or []
            ],
            tool_call_id=responses[0].get("tool_call_id") if responses else None,
            raw=raw,
            turn=self.state.turn,
        )
        self.state.messages.append(chat)
        self.new_messages.append(chat)
        if role == "tool":
            # A ReplyResult's context_variables reach the group after the tool wrapper's own check.
            self.tool_run.guard("a tool's ReplyResult")
        self.state.context_variables = without_runtime(self.chat.context.to_dict())
        return message

    def _set_context(self, updates: dict[str, Any]) -> None:
        """Variables the engine itself sets (state triggers): in the group's context and the state's; with
        no updates, the state takes what lifecycle tools changed in the group's context."""
        self.chat.context.data.update(updates)
        self.state.context_variables = without_runtime(self.chat.context.to_dict())

    def _user_message_event(self, text: str) -> None:
        input_id = self.user_input.input_id if self.user_input else "initial"
        self.out.emit(UserMessage, input_id=input_id, text=text)

"""``run_step``: exactly one orchestration step of a session, from a persisted state to the next one.

A step is one speaker's turn: the human input this invocation carries (if the session waits for it), then the
reply of the agent selected ahead at the end of the previous step, with its tool calls executed, and then the
selection of the next speaker. It ends with the session running (enqueue the next step), awaiting input (a
user turn, or a UI tool's answer) or finished.

Exact resume (see ``engine.group`` for the rebuild):

- Every turn persists its speaker and the raw reply exactly as AG2's ``generate_reply()`` produced it
  (``ChatMessage.raw``); a step rebuilds the chat by replaying those, never by feeding back the group form.
- Selection happens ahead, at the end of the step that produced the reply: a handoff chosen by a tool call
  lives only in the memory of AG2's group tool executor and would be lost in the next process. The chosen
  speaker is persisted as ``state.next_speaker``; the next step consumes it.
- ``state.started`` replaces the ``use_initial_agent`` flag of AG2's transition closure.
- Each agent's ``_consecutive_auto_reply_counter`` and each agent's count of model calls (which keys the
  scripted model's replies) live in ``state.engine``.
- Human input goes through ``engine.humanio.StepIO``: never blocking, answered from this invocation.
- Random selection draws from an RNG seeded by session id and turn.

Everything runs on the calling thread; no AG2 background runner is used.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from runtime_core.engine.compiler import CompiledWorkflow, compile_workflow
from runtime_core.engine.humanio import HUMANS, TEMP_USER, HumanInputNeeded, StepIO
from runtime_core.engine.toolbox import ToolRun, ui_payload
from runtime_core.events import (
    AgentMessage,
    ErrorEvent,
    Event,
    Handoff,
    InputRequested,
    RunCompleted,
    RunStarted,
    SpeakerSelected,
    StructuredOutput,
    ToolCallEvent,
    ToolResult,
    Usage,
    UserMessage,
)
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import DEFAULT_TIMEOUT, ModelConfigError, ModelProvider
from runtime_core.llm.scripted import ScriptExhausted, find_script_error
from runtime_core.session import (
    USER_SPEAKER,
    ChatMessage,
    InputRequest,
    SessionState,
    SessionStatus,
    ToolCall,
    UsageRecord,
    UserInput,
    utcnow,
)
from runtime_core.workflow.spec import OrchestrationStrategy, StartupMode, Workflow

if TYPE_CHECKING:
    from runtime_core.engine.group import Group

DEFAULT_INITIAL_MESSAGE = "Begin."
HANDOFF_PREFIX = "[Handing off to "
TRANSFER_PREFIX = "transfer_to_"


class StepResult(BaseModel):
    """What a step produced. ``state`` is the next state to persist; its messages include ``new_messages``."""

    state: SessionState
    new_messages: list[ChatMessage] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    usage: list[UsageRecord] = Field(default_factory=list)
    # True when another step should run right away (the session is running and no input is awaited).
    enqueue_next: bool = False

    @property
    def status(self) -> SessionStatus:
        return self.state.status


def run_step(
    state: SessionState, workflow: Workflow, model: ModelProvider, user_input: UserInput | None = None
) -> StepResult:
    """Run one orchestration step. Pure apart from model calls and tools: no store, no transport."""
    return _Step(state, workflow, model, user_input).run()


def cancel_step(state: SessionState) -> StepResult:
    """End a session on the user's request: ``run_completed(cancelled)``."""
    if state.status.is_final:
        return StepResult(state=state)
    step = _Events(state)
    step.emit(RunCompleted, status="cancelled", reason="cancelled by the user")
    new_state = state.model_copy(deep=True)
    new_state.status = SessionStatus.cancelled
    new_state.pending_input = None
    new_state.next_speaker = None
    new_state.last_event_seq = step.seq
    new_state.updated_at = utcnow()
    return StepResult(state=new_state, events=step.events)


class _Events:
    def __init__(self, state: SessionState) -> None:
        self.session_id = state.session_id
        self.seq = state.last_event_seq
        self.events: list[Event] = []

    def emit(self, kind: type[Any], **fields: Any) -> None:
        self.seq += 1
        self.events.append(kind(session_id=self.session_id, seq=self.seq, **fields))


def normalize(raw: Any) -> Any:
    """A reply in the form it has after a JSON round trip, so a live step and a replayed one see the same."""
    return json.loads(json.dumps(raw, default=str))


class UIToolFailed(RuntimeError):
    """A UI tool's function raised while building the payload for the client."""


class _Finished(Exception):
    pass


class _Step:
    def __init__(
        self, state: SessionState, workflow: Workflow, model: ModelProvider, user_input: UserInput | None
    ):
        self.original = state
        self.state = state.model_copy(deep=True)
        self.workflow = workflow
        self.model = model
        self.user_input = user_input
        self.out = _Events(state)
        self.new_messages: list[ChatMessage] = []
        self.io = StepIO()
        self.tool_run = ToolRun()
        self.compiled: CompiledWorkflow
        self.meter: CallMeter | None = None
        self.group: Group | None = None
        # The step's closing event (input_request / run_completed): emitted last, after the usage event.
        self.final: tuple[type[Any], dict[str, Any]] | None = None
        # Set once this step reported how the turn passes on, so selection does not report it again.
        self.handoff_reported = False

    @property
    def chat(self) -> Group:
        """The step's AG2 group chat (built by ``_turn``)."""
        assert self.group is not None
        return self.group

    # ---- entry -------------------------------------------------------------------------------------------
    def run(self) -> StepResult:
        if self.state.status.is_final:
            return self._refuse(
                "session_closed", f"the session is {self.state.status.value}", recoverable=False
            )
        try:
            self.compiled = compile_workflow(self.workflow)
        except Exception as exc:
            return self._refuse("workflow_error", str(exc), recoverable=False)
        problem = self._check_input()
        if problem is not None:
            return self._refuse("invalid_input", problem, recoverable=True)

        if not self.state.messages and not self.state.engine.get("initialized"):
            self._start()
            if self.workflow.orchestrator.startup_mode == StartupMode.user_first and self.user_input is None:
                self._await_user(agent=None)
                return self._result()

        from autogen.io.base import IOStream

        self.state.status = SessionStatus.running
        self.meter = CallMeter(
            self.model.transport(), self.state.engine.get("model_calls", {}), timeout=DEFAULT_TIMEOUT
        )
        try:
            with IOStream.set_default(self.io):
                self._turn()
        except _Finished:
            pass
        except Exception as exc:
            return self._failed(exc)
        finally:
            self.meter.close()
        return self._result()

    def _check_input(self) -> str | None:
        pending, given = self.state.pending_input, self.user_input
        if given is None:
            if pending is not None:
                return f"the session is waiting for input (request {pending.request_id})"
            return None
        if pending is None:
            if not self.state.messages and self.workflow.orchestrator.startup_mode == StartupMode.user_first:
                return (
                    None
                    if given.kind == "message" and given.text.strip()
                    else "the first input must be a message"
                )
            return "the session is not waiting for input"
        if pending.kind == "user_turn":
            if given.kind != "message" or not given.text.strip():
                return "a non-empty message is expected"
            return None
        if given.kind != "answer" or given.request_id != pending.request_id:
            return f"an answer to request {pending.request_id} is expected"
        return None

    def _start(self) -> None:
        initial = self.compiled.initial_context()
        initial.update(self.state.context_variables)
        self.state.context_variables = initial
        self.state.engine["initialized"] = True
        self.out.emit(RunStarted, workflow=self.compiled.name, agents=[a.name for a in self.compiled.agents])

    # ---- the turn ----------------------------------------------------------------------------------------
    def _turn(self) -> None:
        from runtime_core.engine.group import build_group

        first = self._first_message()
        self.group = build_group(self.compiled, self.state, self.model, self.meter, first, self.tool_run)
        for message in self.state.messages:
            self.chat.commit(self.chat.participant(message.speaker), message.raw)
        self.chat.restore_counters(self.state.engine.get("counters", {}))

        if not self.state.messages:
            self.state.pending_input = None
            speaker = self._first_speaker()
            self._commit(speaker, first)
            self._user_message_event(first["content"])
            next_agent = self._select(speaker)
        elif self.state.pending_input is not None:
            next_agent = self._consume_input()
        else:
            next_agent = self.chat.participant(self.state.next_speaker or "")
        self._agent_turn(next_agent)

    def _first_message(self) -> dict[str, Any]:
        if self.state.messages:
            return copy.deepcopy(self.state.messages[0].raw)
        orchestrator = self.workflow.orchestrator
        if orchestrator.startup_mode == StartupMode.user_first:
            text = self.user_input.text if self.user_input else ""
        else:
            text = orchestrator.initial_message or DEFAULT_INITIAL_MESSAGE
        return {"role": "user", "content": text}

    def _first_speaker(self) -> Any:
        return self.chat.user or self.chat.participant(TEMP_USER)

    def _consume_input(self) -> Any:
        pending = self.state.pending_input
        assert pending is not None and self.user_input is not None
        self.state.pending_input = None
        if pending.kind == "user_turn":
            human = self.chat.participant(self.state.next_speaker or USER_SPEAKER)
            self.io.supply(self.user_input.text)
            reply = human.generate_reply(sender=self.chat.manager)
            if reply is None:
                self._complete("completed", "the user ended the conversation")
            self._commit(human, reply)
            self._user_message_event(self.user_input.text)
            return self._select(human)
        # A UI tool's answer: the tool executor runs the pending call(s); the answer is the UI tool's result.
        self.tool_run.ui_answer = self.user_input.data or {"text": self.user_input.text}
        self._user_message_event(self.user_input.text or json.dumps(self.tool_run.ui_answer))
        caller = pending.agent or ""
        self._execute_tools(caller)
        self._after_reply(caller)
        return self._select(self.chat.executor)

    def _agent_turn(self, speaker: Any) -> None:
        if speaker.name in HUMANS:
            self._await_user(agent=speaker.name)
            return
        if self.state.turn >= self.workflow.orchestrator.max_turns:
            self._complete("max_turns", f"max_turns ({self.workflow.orchestrator.max_turns}) reached")
        self.handoff_reported = False
        reply = speaker.generate_reply(sender=self.chat.manager)
        self.state.turn += 1
        if reply is None:
            self._complete("completed", f"{speaker.name} gave no reply")
        message = self._commit(speaker, reply)
        self._reply_events(speaker.name, message)
        calls = self.new_messages[-1].tool_calls
        if calls:
            ui = [c for c in calls if c.name in self.compiled.tools and self.compiled.tools[c.name].is_ui]
            if ui:
                self._await_ui(speaker.name, ui[0])
                return
            self._execute_tools(speaker.name)
        self._check_termination(speaker.name, self.new_messages[-1])
        if self.state.turn >= self.workflow.orchestrator.max_turns:
            # Checked before selecting: an auto selection would be a model call nobody needs.
            self._complete("max_turns", f"max_turns ({self.workflow.orchestrator.max_turns}) reached")
        self._after_reply(speaker.name)
        next_agent = self._select(speaker)
        if next_agent.name in HUMANS:
            self._await_user(agent=next_agent.name)

    def _execute_tools(self, caller: str) -> None:
        executor = self.chat.executor
        reply = executor.generate_reply(sender=self.chat.manager)
        if reply is None:
            self._complete("completed", "the tool executor gave no reply")
        self._commit(executor, reply)
        self._tool_result_events(caller, self.new_messages[-1])

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
        try:
            chosen = self.chat.select_next(last_speaker, self.state.started)
        except NoEligibleSpeakerError:
            self.state.started = True
            self._complete("completed", "the workflow reached a terminate target")
        self.state.started = True
        self.state.next_speaker = chosen.name
        origin = self.new_messages[-1].speaker if self.new_messages else last_speaker.name
        if transfer is not None:
            self.out.emit(Handoff, from_agent=transfer[0], to=chosen.name, reason=f"llm: {transfer[1]}")
        elif not self.handoff_reported and self._is_after_work(origin, chosen.name):
            self.out.emit(Handoff, from_agent=origin, to=chosen.name, reason="after_work")
        if chosen.name not in HUMANS and chosen is not self.chat.executor:
            self.out.emit(SpeakerSelected, agent=chosen.name, turn=self.state.turn + 1)
        return chosen

    def _transfer_target(self) -> tuple[str, str] | None:
        """(agent, function) when this step's last agent message called an AG2 handoff function."""
        for message in reversed(self.new_messages):
            if message.role == "assistant":
                for call in message.tool_calls:
                    if call.name.startswith(TRANSFER_PREFIX) and call.name not in self.compiled.tools:
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
    def _await_user(self, agent: str | None) -> None:
        request = InputRequest(
            request_id=f"req-{len(self.state.messages)}",
            kind="user_turn",
            prompt="Your message" if agent is None else "Your reply",
            agent=self._last_agent(),
        )
        self.state.pending_input = request
        self.state.next_speaker = agent or USER_SPEAKER
        self.state.status = SessionStatus.awaiting_input
        self.final = (InputRequested, {"request": request})

    def _await_ui(self, agent: str, call: ToolCall) -> None:
        from autogen.agentchat.group import ContextVariables

        tool = self.compiled.tools[call.name]
        context = ContextVariables(data=copy.deepcopy(self.chat.context.to_dict()))
        try:
            arguments = json.loads(call.arguments or "{}")
            payload = ui_payload(tool, arguments, context)
        except Exception as exc:
            raise UIToolFailed(f"UI tool {call.name} could not build what the client shows: {exc}") from exc
        request = InputRequest(
            request_id=f"req-{len(self.state.messages)}",
            kind="ui_tool",
            prompt=tool.spec.description,
            agent=agent,
            tool_name=call.name,
            tool_call_id=call.id,
            arguments=arguments,
            ui=payload,
        )
        self.state.pending_input = request
        self.state.next_speaker = self.chat.executor.name
        self.state.status = SessionStatus.awaiting_input
        self.final = (InputRequested, {"request": request})

    def _complete(self, status: str, reason: str) -> None:
        self.state.status = SessionStatus.completed
        self.state.next_speaker = None
        self.state.pending_input = None
        self.final = (RunCompleted, {"status": status, "reason": reason})
        raise _Finished

    def _check_termination(self, agent: str, message: ChatMessage) -> None:
        content = message.content or ""
        keywords = self.workflow.orchestrator.termination_keywords
        hit = next((k for k in keywords if k in content), None)
        if hit is not None:
            self._complete("completed", f"{agent} said {hit!r}")
        if self.chat.manager._is_termination_msg(self.chat.groupchat.messages[-1]):
            self._complete("completed", f"{agent} ended the conversation")

    # ---- transcript and events ---------------------------------------------------------------------------
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
        self.state.context_variables = self.chat.context.to_dict()
        return message

    def _user_message_event(self, text: str) -> None:
        input_id = self.user_input.input_id if self.user_input else "initial"
        self.out.emit(UserMessage, input_id=input_id, text=text)

    def _reply_events(self, agent: str, message: dict[str, Any]) -> None:
        chat = self.new_messages[-1]
        content = chat.content or ""
        visible = self.workflow.orchestrator.visible_agents
        output_model = self.compiled.agent(agent).output_model
        if content.startswith(HANDOFF_PREFIX):
            target = content[len(HANDOFF_PREFIX) :].rstrip("]")
            self.out.emit(Handoff, from_agent=agent, to=target, reason="context")
            self.handoff_reported = True
        elif content and (visible is None or agent in visible) and output_model is None:
            self.out.emit(AgentMessage, agent=agent, content=content, turn=self.state.turn)
        for call in chat.tool_calls:
            if call.name in self.compiled.tools:
                self.out.emit(ToolCallEvent, agent=agent, call=call, ui=self.compiled.tools[call.name].is_ui)
        if output_model is not None and content and not chat.tool_calls:
            try:
                data = output_model.model_validate_json(content).model_dump(mode="json")
            except ValidationError as exc:
                self.out.emit(
                    ErrorEvent,
                    code="structured_output_invalid",
                    message=f"{agent}: reply does not match {output_model.__name__}: {exc}",
                )
            else:
                self.out.emit(StructuredOutput, agent=agent, model=output_model.__name__, data=data)

    def _tool_result_events(self, caller: str, chat: ChatMessage) -> None:
        names = {}
        for message in reversed(self.state.messages[:-1]):
            if message.role == "assistant" and message.tool_calls:
                names = {c.id: c.name for c in message.tool_calls}
                break
        pending = {
            name: [e for e in self.tool_run.executions if e.name == name] for name in self.compiled.tools
        }
        for response in (chat.raw or {}).get("tool_responses") or []:
            call_id = response.get("tool_call_id", "")
            name = names.get(call_id, "")
            if name not in self.compiled.tools:
                continue
            execution = pending[name].pop(0) if pending[name] else None
            error = execution.error if execution else None
            self.out.emit(
                ToolResult,
                agent=caller,
                tool_call_id=call_id,
                name=name,
                content=str(response.get("content", "")),
                is_error=error is not None,
            )
            if error is not None:
                self.out.emit(ErrorEvent, code="tool_error", message=f"tool {name} failed: {error}")

    def _last_agent(self) -> str | None:
        agents = {a.name for a in self.compiled.agents}
        for message in reversed(self.state.messages):
            if message.speaker in agents:
                return message.speaker
        return None

    # ---- results -----------------------------------------------------------------------------------------
    def _usage(self) -> list[UsageRecord]:
        if self.meter is None:
            return []
        return [
            UsageRecord(
                session_id=self.state.session_id,
                agent=c.agent,
                model=c.model,
                purpose=c.purpose,
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                cost=c.cost,
                turn=self.state.turn,
            )
            for c in self.meter.calls
        ]

    def _emit_usage(self, state: SessionState, records: list[UsageRecord], events: _Events) -> None:
        if not records:
            return
        state.usage = state.usage.add(records)
        events.emit(
            Usage,
            prompt_tokens=sum(r.prompt_tokens for r in records),
            completion_tokens=sum(r.completion_tokens for r in records),
            cost=sum(r.cost for r in records),
            total_prompt_tokens=state.usage.prompt_tokens,
            total_completion_tokens=state.usage.completion_tokens,
            total_cost=state.usage.cost,
        )

    def _result(self) -> StepResult:
        records = self._usage()
        self._emit_usage(self.state, records, self.out)
        if self.final is not None:
            self.out.emit(self.final[0], **self.final[1])
        if self.meter is not None:
            self.state.engine["model_calls"] = self.meter.call_counts
            if self.group is not None:
                self.state.engine["counters"] = self.group.counters()
        if self.state.status == SessionStatus.running and self.state.pending_input is None:
            enqueue = True
        else:
            enqueue = False
        self.state.error = None
        self.state.last_event_seq = self.out.seq
        self.state.updated_at = utcnow()
        return StepResult(
            state=self.state,
            new_messages=self.new_messages,
            events=self.out.events,
            usage=records,
            enqueue_next=enqueue,
        )

    def _refuse(self, code: str, message: str, recoverable: bool) -> StepResult:
        state = self.original.model_copy(deep=True)
        events = _Events(state)
        events.emit(ErrorEvent, code=code, message=message, recoverable=recoverable)
        state.last_event_seq = events.seq
        return StepResult(state=state, events=events.events)

    def _failed(self, exc: Exception) -> StepResult:
        """The turn failed (model error after retries, script problem): nothing of it is kept but its cost."""
        script_error = find_script_error(exc)
        if isinstance(script_error, ScriptExhausted):
            code, message = "script_exhausted", str(script_error)
        elif script_error is not None:
            code, message = "script_error", str(script_error)
        elif isinstance(exc, UIToolFailed):
            code, message = "tool_error", str(exc)
        elif isinstance(exc, ModelConfigError):
            code, message = "model_config_error", str(exc)
        elif isinstance(exc, HumanInputNeeded):
            code, message = "input_required", "an agent asked for human input outside a user turn"
        else:
            code, message = "model_error", f"{type(exc).__name__}: {exc}"
        state = self.original.model_copy(deep=True)
        events = _Events(state)
        records = self._usage()
        self._emit_usage(state, records, events)
        events.emit(ErrorEvent, code=code, message=message, recoverable=True)
        state.error = message
        state.last_event_seq = events.seq
        state.updated_at = utcnow()
        return StepResult(state=state, events=events.events, usage=records)

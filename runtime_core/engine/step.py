"""``run_step``: exactly one orchestration step of a session, from a persisted state to the next one.

A step does one of these, then ends with the session running (enqueue the next step), awaiting input (a user
turn, or a UI tool's answer) or finished:

- an agent's turn: the human input this invocation carries (if the session waits for a user turn), then the
  reply of the agent selected ahead at the end of the previous step. A reply without tool calls is followed by
  the selection of the next speaker. A reply with tool calls ends the step right there, the reply on record
  (``state.engine["tools_pending"]``): a failure while the tools run then retries the tools, never the model
  call. UI tool calls end it too, awaiting the client's answer;
- the tools of the reply the previous step recorded (or, with a UI tool's answer, the UI tool), then what
  follows them: tool results, the termination check, ``after_reply`` context handoffs and the selection of
  the next speaker. No model reply follows in the same step, so a model failure never runs tools again.

Exact resume (see ``engine.group`` for the rebuild):

- Every turn persists its speaker and the raw reply exactly as AG2's ``generate_reply()`` produced it
  (``ChatMessage.raw``); a step rebuilds the chat by replaying those, never by feeding back the group form.
- Selection happens ahead, at the end of the step that ran the tools (or the reply): a handoff chosen by a
  tool call lives only in the memory of AG2's group tool executor and would be lost in the next process. The
  chosen speaker is persisted as ``state.next_speaker``; the next step consumes it.
- ``state.started`` replaces the ``use_initial_agent`` flag of AG2's transition closure.
- Each agent's ``_consecutive_auto_reply_counter`` and each agent's count of model calls (which keys the
  scripted model's replies) live in ``state.engine``.
- Human input goes through ``engine.humanio.StepIO``: never blocking, answered from this invocation.
- Random selection draws from an RNG seeded by session id and turn.

Speed (``engine.tuning``): a warm process reuses the agents an earlier step built (``engine.warm``, reset by
``Group.begin``: a cache never changes a step's result), the step shares the append-only transcript instead
of deep-copying it (``engine.history``), and model requests skip the OpenAI SDK's transform
(``llm.fastpath``), byte for byte the same.

Delivery guarantees: ``deadline`` bounds the step's model work (``llm.retry``); ``on_model_call`` receives
each model call's ``UsageRecord`` as soon as its response arrives; tool functions see a stable idempotency
key (``runtime_core.tools``). Everything runs on the calling thread; no AG2 background runner is used.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from runtime_core.deltas import DeltaSink, TextDelta, message_id
from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.failures import classify
from runtime_core.engine.greeting import wants_greeting
from runtime_core.engine.history import fork
from runtime_core.engine.lifecycle import LIFECYCLE_DONE, run_lifecycle
from runtime_core.engine.loading import load_engine
from runtime_core.engine.report import Events, emit_context, emit_usage
from runtime_core.engine.runtime_context import runtime_values, without_runtime
from runtime_core.engine.triggers import hides_text
from runtime_core.engine.turn import TOOLS_PENDING, Finished, Turn
from runtime_core.events import ErrorEvent, Event, RunCompleted, RunStarted
from runtime_core.llm.meter import CallMeter, MeteredCall
from runtime_core.llm.provider import DEFAULT_TIMEOUT, ModelProvider
from runtime_core.llm.retry import RetryTransport
from runtime_core.llm.streaming import StreamTransport
from runtime_core.session import ChatMessage, SessionState, SessionStatus, UsageRecord, UserInput, utcnow
from runtime_core.workflow.spec import StartupMode, Workflow
from runtime_core.workflow.spec_base import LifecycleTrigger

__all__ = ["TOOLS_PENDING", "RequestSink", "StepResult", "UsageSink", "cancel_step", "run_step"]

UsageSink = Callable[[UsageRecord], None]
RequestSink = Callable[[str, str], None]


class StepResult(BaseModel):
    """What a step produced. ``state`` is the next state to persist; its messages include ``new_messages``."""

    state: SessionState
    new_messages: list[ChatMessage] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    # Every model call the step made, failed steps included; ``on_model_call`` got each one as it happened.
    usage: list[UsageRecord] = Field(default_factory=list)
    # True when another step should run right away (the session is running and no input is awaited).
    enqueue_next: bool = False
    # Why the step did not go through (the code of its error event), None when it did. A failed turn
    # (model_error, model_timeout, ...) leaves its message in ``state.error`` and the state it started from,
    # to be stepped again; a refusal (invalid_input, session_closed, workflow_error) leaves ``state.error``.
    error_code: str | None = None

    @property
    def status(self) -> SessionStatus:
        return self.state.status


def run_step(
    state: SessionState,
    workflow: Workflow,
    model: ModelProvider,
    user_input: UserInput | None = None,
    *,
    deadline: float | None = None,
    on_model_call: UsageSink | None = None,
    on_model_request: RequestSink | None = None,
    on_delta: DeltaSink | None = None,
) -> StepResult:
    """Run one orchestration step. Pure apart from model calls and tools: no store, no transport.

    ``deadline``: a ``time.monotonic()`` instant by which the step's model work must be over; no model attempt
    starts after it (minus ``llm.retry.MIN_ATTEMPT_SECONDS``) and none runs past it: the step fails with
    ``model_timeout`` instead. ``on_model_call``: called with each model call's ``UsageRecord`` when its
    response arrives (the same records end up in ``StepResult.usage``); an exception it raises ends the step
    and propagates out of ``run_step``. ``on_model_request``: called with (agent, purpose) just before each
    model call goes out, the same way. ``on_delta``: given, agents' replies are streamed (those the workflow
    lets stream, see ``streams``) and their text handed to it as it arrives (``runtime_core.deltas``); what
    it raises is ignored: live text is best effort, the stored events are the record.
    """
    load_engine()
    step = _Step(state, workflow, model, user_input, deadline, on_model_call, on_model_request)
    step.on_delta = on_delta
    return step.run()


def streams(workflow: Workflow, agent: str) -> bool:
    """Whether an agent's replies are streamed: its own ``streaming``, else the orchestrator's; never for an
    agent the user does not see or one that answers with a structured output (JSON, not text)."""
    orchestrator = workflow.orchestrator
    visible = orchestrator.visible_agents
    spec = next((a for a in workflow.agents if a.name == agent), None)
    if spec is None or (visible is not None and agent not in visible) or spec.structured_output:
        return False
    if hides_text(workflow, agent):
        # A reply a ui_hidden state trigger may hide is known only once complete (engine.triggers).
        return False
    return orchestrator.streaming if spec.streaming is None else spec.streaming


def cancel_step(state: SessionState) -> StepResult:
    """End a session on the user's request: ``run_completed(cancelled)``."""
    if state.status.is_final:
        return StepResult(state=state)
    step = Events(state)
    step.emit(RunCompleted, status="cancelled", reason="cancelled by the user")
    new_state = fork(state)
    new_state.status = SessionStatus.cancelled
    new_state.pending_input = None
    new_state.next_speaker = None
    new_state.last_event_seq = step.seq
    new_state.updated_at = utcnow()
    return StepResult(state=new_state, events=step.events)


class _Step(Turn):
    def __init__(
        self,
        state: SessionState,
        workflow: Workflow,
        model: ModelProvider,
        user_input: UserInput | None,
        deadline: float | None = None,
        on_model_call: UsageSink | None = None,
        on_model_request: RequestSink | None = None,
    ):
        super().__init__(state, workflow, model, user_input)
        self.deadline = deadline
        self.on_model_call = on_model_call
        self.on_model_request = on_model_request
        self.records: list[UsageRecord] = []
        self.on_delta: DeltaSink | None = None
        # What the caller's on_model_call raised: it ends the step and reaches the caller unchanged.
        self.sink_error: BaseException | None = None
        # Set when this step started the run: a step that fails still reports (and keeps) the start.
        self.start: tuple[dict[str, Any], dict[str, Any]] | None = None

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
        fresh = not self.state.messages and not self.state.engine.get("initialized")
        if fresh and (missing := self.compiled.missing_config()):
            return self._refuse("workflow_error", "; ".join(missing), recoverable=False)
        if fresh:
            # Before anything can fail: run_started is the session's first event whatever happens next.
            self._start()
        problem = self._check_input()
        if problem is not None:
            given = self.user_input.input_id if self.user_input is not None else None
            return self._refuse("invalid_input", problem, recoverable=True, input_id=given)
        user_first = self.workflow.orchestrator.startup_mode == StartupMode.user_first
        greeting = wants_greeting(self.workflow)
        if user_first and not self.state.messages and self.user_input is None and not greeting:
            # No first message yet (a new session, or one whose first step failed): the user opens the chat.
            self._await_user(agent=None)
            return self._result()

        from autogen.io.base import IOStream

        self.state.status = SessionStatus.running
        transport = RetryTransport(
            self.model.transport(), max_retries=self.model.max_retries, deadline=self.deadline
        )
        if self.on_delta is not None:
            transport = StreamTransport(
                transport, wants=self._streams, on_text=self._text, on_end=self._flush
            )
        counts = self.state.engine.get("model_calls", {})
        self.meter = CallMeter(
            transport, counts, timeout=DEFAULT_TIMEOUT, on_call=self._metered, on_start=self._starting
        )
        # Whether the group may serve another step: only after a step that ended normally (engine.warm).
        clean = False
        try:
            try:
                with IOStream.set_default(self.io):
                    self._turn()
            except Finished:
                pass
            except Exception as exc:
                if self.sink_error is not None:
                    raise self.sink_error from None
                return self._failed(exc)
            if self.sink_error is not None:  # swallowed on the way up: still the caller's failure
                raise self.sink_error
            result = self._result()  # reads the group's counters: before another step can lease it
            clean = True
            return result
        finally:
            if self.lease is not None:
                self.lease.release(keep=clean)
            self.meter.close()

    def _streams(self, agent: str, purpose: str) -> bool:
        return purpose == "reply" and streams(self.workflow, agent)

    def _text(self, agent: str, offset: int, text: str) -> None:
        """The stream transport's hook: a piece of the reply the current turn is writing (``state.turn`` is
        raised once the reply is complete, as for usage)."""
        assert self.on_delta is not None
        turn = self.state.turn + 1
        delta = TextDelta(
            session_id=self.state.session_id,
            agent=agent,
            turn=turn,
            message_id=message_id(self.state.session_id, turn),
            offset=offset,
            text=text,
        )
        with contextlib.suppress(Exception):
            self.on_delta.delta(delta)

    def _flush(self, agent: str) -> None:
        if self.on_delta is not None:
            with contextlib.suppress(Exception):  # deltas never fail a step (see run_step)
                self.on_delta.flush()

    def _starting(self, agent: str, purpose: str) -> None:
        """The meter's hook, just before a model call goes out: the caller notes it (the usage ledger)."""
        if self.on_model_request is not None:
            try:
                self.on_model_request(agent, purpose)
            except BaseException as exc:
                self.sink_error = exc
                raise

    def _metered(self, call: MeteredCall) -> None:
        """The meter's hook, as each model response arrives: record it and hand it to the caller at once."""
        record = UsageRecord(
            session_id=self.state.session_id,
            agent=call.agent,
            model=call.model,
            workflow=self.state.workflow_name,
            purpose=call.purpose,  # type: ignore[arg-type]
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            cost=call.cost,
            # A reply makes the next turn; a speaker selection follows the turn just made.
            turn=self.state.turn + (0 if call.purpose == "speaker_selection" else 1),
        )
        self.records.append(record)
        if self.on_model_call is not None:
            try:
                self.on_model_call(record)
            except BaseException as exc:
                self.sink_error = exc
                raise

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
        if pending.kind == "user_turn" and self._agent_asked(pending):
            # An ALWAYS agent's question: a message, or an answer frame (the wire's only way to send the
            # empty text that lets the agent reply itself).
            if given.kind == "message" or given.request_id == pending.request_id:
                return None
            return f"a message or an answer to request {pending.request_id} is expected"
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
        if self.compiled.lifecycle:
            initial = self._before_chat(initial)
        # The runtime's keys are never persisted (engine.runtime_context): not even a declared default.
        initial = without_runtime(initial)
        self.state.context_variables = initial
        self.state.engine["initialized"] = True
        fields = {"workflow": self.compiled.name, "agents": [a.name for a in self.compiled.agents]}
        self.start = (copy.deepcopy(initial), fields)
        self.out.emit(RunStarted, **fields)
        self._report_context()  # the initial values, right after the start

    def _before_chat(self, initial: dict[str, Any]) -> dict[str, Any]:
        """The before_chat lifecycle tools, once per session (recorded), on the starting context."""
        from autogen.agentchat.group import ContextVariables

        done = self.state.engine.setdefault(LIFECYCLE_DONE, [])
        if "before_chat" in done:
            return initial
        done.append("before_chat")
        context = ContextVariables(data={**initial, **runtime_values(self.state, self.compiled.name)})
        run_lifecycle(self.compiled.lifecycle, LifecycleTrigger.before_chat, context)
        return context.to_dict()

    # ---- results -----------------------------------------------------------------------------------------
    def _result(self) -> StepResult:
        self._report_context()
        emit_usage(self.state, self.records, self.out)
        if self.final is not None:
            self.out.emit(self.final[0], **self.final[1])
        if self.meter is not None:
            self.state.engine["model_calls"] = self.meter.call_counts
            if self.group is not None:
                self.state.engine["counters"] = self.group.counters()
        enqueue = self.state.status == SessionStatus.running and self.state.pending_input is None
        self.state.error = None
        self.state.last_event_seq = self.out.seq
        self.state.updated_at = utcnow()
        return StepResult(
            state=self.state,
            new_messages=self.new_messages,
            events=self.out.events,
            usage=self.records,
            enqueue_next=enqueue,
        )

    def _unchanged(self) -> tuple[SessionState, Events]:
        """The state a step that did not go through leaves: the one it started from, plus the run's start if
        this step made it (run_started keeps seq 1, and the retry does not start the run again)."""
        state = fork(self.original)
        events = Events(state)
        if self.start is not None:
            context, fields = self.start
            state.context_variables = copy.deepcopy(context)
            state.engine["initialized"] = True
            events.emit(RunStarted, **fields)
            emit_context(events, self.workflow, self.original.context_variables, state.context_variables)
        return state, events

    def _refuse(self, code: str, message: str, recoverable: bool, input_id: str | None = None) -> StepResult:
        state, events = self._unchanged()
        extra = {"input_id": input_id} if input_id is not None else {}
        events.emit(ErrorEvent, code=code, message=message, recoverable=recoverable, **extra)
        state.last_event_seq = events.seq
        return StepResult(state=state, events=events.events, error_code=code)

    def _failed(self, exc: Exception) -> StepResult:
        """The turn failed (model error after retries, script problem): nothing of it is kept but its cost."""
        code, message = classify(exc)
        state, events = self._unchanged()
        emit_usage(state, self.records, events)
        events.emit(ErrorEvent, code=code, message=message, recoverable=True)
        state.error = message
        state.last_event_seq = events.seq
        state.updated_at = utcnow()
        return StepResult(state=state, events=events.events, usage=self.records, error_code=code)

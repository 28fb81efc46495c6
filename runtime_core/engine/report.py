"""What a step tells the client: its numbered events, built from the transcript entries it committed.

Split from ``engine.step`` so the control flow there reads as the turn it runs; everything here only looks at
messages, tool executions and the compiled workflow, and emits events.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.toolbox import ToolExecution
from runtime_core.events import (
    AgentMessage,
    ContextUpdated,
    ErrorEvent,
    Event,
    Handoff,
    StructuredOutput,
    ToolCallEvent,
    ToolResult,
    Usage,
)
from runtime_core.session import ChatMessage, SessionState, UsageRecord

HANDOFF_PREFIX = "[Handing off to "
# (agent, function name) -> True when the function is one of the agent's AG2 llm handoff (transfer) functions.
IsHandoff = Callable[[str, str], bool]


class Events:
    """A step's events, numbered on from the session's last event."""

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


def is_visible(compiled: CompiledWorkflow, agent: str) -> bool:
    """Whether what ``agent`` produces reaches the client: orchestrator ``visible_agents`` (the original
    dialect's ``visual_agents``) applies to its messages, tool calls, tool results and structured outputs
    alike. Handoffs, errors and a UI tool's call stay visible: the client needs them to follow the run."""
    visible = compiled.workflow.orchestrator.visible_agents
    return visible is None or agent in visible


def reply_events(
    out: Events,
    compiled: CompiledWorkflow,
    agent: str,
    chat: ChatMessage,
    turn: int,
    is_handoff: IsHandoff,
    *,
    hidden: bool = False,
    written: bool = False,
) -> bool:
    """An agent's reply: its message, its tool calls, its structured output. True if it reported a handoff.

    ``hidden``: a state trigger with ``ui_hidden`` matched the reply; its text is not shown.
    ``written``: the workflow wrote the reply (the UserDriven greeting), no model did: it is text, even for an
    agent whose model replies follow a structured output."""
    content = chat.content or ""
    shown = is_visible(compiled, agent)
    output_model = None if written else compiled.agent(agent).output_model
    handoff = False
    if content.startswith(HANDOFF_PREFIX):
        target = content[len(HANDOFF_PREFIX) :].rstrip("]")
        out.emit(Handoff, from_agent=agent, to=target, reason="context")
        handoff = True
    elif content and shown and not hidden and output_model is None:
        out.emit(AgentMessage, agent=agent, content=content, turn=turn)
    for call in chat.tool_calls:
        tool = compiled.tools.get(call.name)
        ui = tool is not None and tool.is_ui
        # A call to a tool that does not exist is reported too: the client sees what the model asked for,
        # and its failure follows as a tool result. Only AG2's own handoff functions stay internal. A UI
        # tool's call is shown even for a hidden agent: the client renders it.
        if (tool is not None or not is_handoff(agent, call.name)) and (shown or ui):
            out.emit(ToolCallEvent, agent=agent, call=call, ui=ui)
    if output_model is not None and content and not chat.tool_calls and not shown:
        # Still checked: an invalid reply is an error the client hears of, whoever produced it.
        try:
            output_model.model_validate_json(content)
        except ValidationError as exc:
            out.emit(
                ErrorEvent,
                code="structured_output_invalid",
                message=f"{agent}: reply does not match {output_model.__name__}: {exc}",
            )
    elif output_model is not None and content and not chat.tool_calls:
        try:
            data = output_model.model_validate_json(content).model_dump(mode="json")
        except ValidationError as exc:
            out.emit(
                ErrorEvent,
                code="structured_output_invalid",
                message=f"{agent}: reply does not match {output_model.__name__}: {exc}",
            )
        else:
            out.emit(StructuredOutput, agent=agent, model=output_model.__name__, data=data)
    return handoff


def tool_result_events(
    out: Events,
    compiled: CompiledWorkflow,
    caller: ChatMessage,
    results: ChatMessage,
    executions: list[ToolExecution],
    is_handoff: IsHandoff,
) -> None:
    """The tool executor's message: one result per call; failures and unknown tools also as error events."""
    names = {c.id: c.name for c in caller.tool_calls}
    by_name = {name: [e for e in executions if e.name == name] for name in compiled.tools}
    for response in (results.raw or {}).get("tool_responses") or []:
        call_id = response.get("tool_call_id", "")
        name = names.get(call_id, "")
        content = str(response.get("content", ""))
        if name in compiled.tools:
            execution = _execution(call_id, by_name[name])
            if execution is None:
                # AG2 never reached the function (arguments that are not JSON, or that do not fit it).
                error: str | None = content
            else:
                error = execution.error
        elif is_handoff(caller.speaker, name):
            continue
        else:
            error = f"there is no tool named {name!r} ({caller.speaker}'s model asked for it)"
        tool = compiled.tools.get(name)
        if is_visible(compiled, caller.speaker) or (tool is not None and tool.is_ui):
            out.emit(
                ToolResult,
                agent=caller.speaker,
                tool_call_id=call_id,
                name=name,
                content=content,
                is_error=error is not None,
            )
        if error is not None:
            out.emit(ErrorEvent, code="tool_error", message=f"tool {name} failed: {error}")


def _execution(call_id: str, candidates: list[ToolExecution]) -> ToolExecution | None:
    for execution in candidates:
        if execution.call_id == call_id:
            candidates.remove(execution)
            return execution
    # Executions without an id (the executor was not attached): in call order.
    unnamed = [e for e in candidates if e.call_id is None]
    if unnamed:
        candidates.remove(unnamed[0])
        return unnamed[0]
    return None


def emit_usage(state: SessionState, records: list[UsageRecord], out: Events) -> None:
    """Add the step's model calls to the session's totals and report them in one usage event."""
    if not records:
        return
    state.usage = state.usage.add(records)
    out.emit(
        Usage,
        prompt_tokens=sum(r.prompt_tokens for r in records),
        completion_tokens=sum(r.completion_tokens for r in records),
        cost=sum(r.cost for r in records),
        total_prompt_tokens=state.usage.prompt_tokens,
        total_completion_tokens=state.usage.completion_tokens,
        total_cost=state.usage.cost,
    )


def emit_context(out: Events, workflow: Any, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A ``context_updated`` event when the step changed the context the client may see: variables read from
    the environment (``source: env``) are never sent, they may hold secrets."""
    hidden = {v.name for v in workflow.context_variables if v.source == "env"}
    seen_before = {k: v for k, v in before.items() if k not in hidden}
    seen_after = {k: v for k, v in after.items() if k not in hidden}
    changed = [k for k, v in seen_after.items() if k not in seen_before or seen_before[k] != v]
    removed = [k for k in seen_before if k not in seen_after]
    if not changed and not removed:
        return False
    out.emit(ContextUpdated, changed=changed, removed=removed, variables=copy.deepcopy(seen_after))
    return True

"""``auto_tool_mode``: an agent's validated structured output invokes its ``auto_invoke`` tool.

As in the original runtime: such an agent gets no tools (the model never sees them); when its reply is a
structured output that validates against its model, the engine calls the agent's ``auto_invoke`` tool (a
tool with ``auto_invoke: true`` naming the agent; with ``auto_invoke`` unset, its UI tool) with the output's
fields as arguments. Fields are matched to the function's parameters by name, ignoring case and ``_``
(``phaseAgents`` fills ``phase_agents``); parameters named ``chat_id``, ``app_id``, ``workflow_name`` or
``agent_name`` get those values when the output has none; ``context_variables`` gets the group's context,
changed in place and persisted with the step. The call runs right after the reply, in the step that made it,
outside AG2's transcript (the original ran it from its event stream): the reply stays on record as written,
the client sees a ``tool_call`` and a ``tool_result``, and the agent's own handoffs apply next. A reply that
does not validate invokes nothing (the client hears ``structured_output_invalid``); a tool that raises gives
an error result and the chat goes on. An agent with no such tool: its output is only a message, as in the
original (which logged that it found no tool to bind).

A UI tool asks the user in its body (``use_ui_tool`` / ``ask_ui``; a ``kind: ui`` tool's function builds
what the client shows and the answer is its result). The original awaited the answer there; here the wait
ends the step, exactly as a wait inside a tool the model called does (``engine.pausing``): nothing the tool
did before the wait is kept, the client gets an ``input_request`` for the call ``auto-<turn>``, and the step
that brings the answer runs the tool again from the start with the recorded answers, then goes on as the
reply's step would have (the tool's result, the agent's handoffs).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.toolbox import LoadedTool
from runtime_core.tools import Interactions, ToolCallInfo, UIWait, ask_ui, executing
from runtime_core.workflow.spec import Tool, ToolKind, Workflow

if TYPE_CHECKING:
    from runtime_core.engine.turn import Turn
    from runtime_core.session import ChatMessage

LOG = logging.getLogger("runtime_core.tools")
CONTEXT_PARAM = "context_variables"
_METADATA = ("chat_id", "app_id", "workflow_name", "agent_name")
# state.engine key: the reply whose auto-invoked tool waits for the user's answer.
AUTO_PENDING = "auto_tool_pending"


def auto_tool_of(workflow: Workflow, agent: str) -> str | None:
    """The tool an ``auto_tool_mode`` agent's output invokes, if any."""
    spec = workflow.agent(agent)
    if not spec.auto_tool_mode or spec.structured_output is None:
        return None
    for tool in workflow.tools:
        if agent not in tool.agents and tool.name not in spec.tools:
            continue
        if tool.auto_invoke or (tool.auto_invoke is None and shows_ui(tool)):
            return tool.name
    return None


def shows_ui(tool: Tool) -> bool:
    """A UI tool: kind ui, or (original dialect) a tool with a ui component that waits for the user."""
    return tool.kind == ToolKind.ui or (tool.ui is not None and tool.ui.component is not None)


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def arguments(tool: LoadedTool, data: dict[str, Any], runtime: dict[str, Any], agent: str) -> dict[str, Any]:
    """The call's keyword arguments: output fields by parameter name, then the runtime's metadata."""
    params = inspect.signature(tool.function).parameters
    names = {
        _key(n): n
        for n, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != CONTEXT_PARAM
    }
    kwargs: dict[str, Any] = {}
    for field, value in data.items():
        matched = names.get(_key(field))
        if matched is not None:
            kwargs[matched] = value
    metadata = {**{k: runtime.get(k) for k in _METADATA[:3]}, "agent_name": agent}
    for name, value in metadata.items():
        matched = names.get(_key(name))
        if matched is not None and matched not in kwargs and value is not None:
            kwargs[matched] = value
    return kwargs


def validated(model: type[BaseModel], content: str) -> dict[str, Any] | None:
    try:
        return model.model_validate_json(content).model_dump(mode="json")
    except ValidationError:
        return None


@dataclass
class Outcome:
    """One run of an auto-invoked tool: its result, or the wait it stopped at."""

    name: str
    # The arguments the call got (the context aside): what the client is shown.
    arguments: dict[str, Any]
    text: str = ""
    is_error: bool = False
    wait: UIWait | None = None


def invoke(
    compiled: CompiledWorkflow,
    agent: str,
    content: str,
    context: Any,
    call: ToolCallInfo | None = None,
    interactions: Interactions | None = None,
) -> Outcome | None:
    """Run ``agent``'s auto tool on its reply ``content``, or None when nothing is invoked (no auto tool, or
    an output that does not validate). ``call`` and ``interactions`` let the tool wait for the user."""
    spec = compiled.agent(agent)
    name = auto_tool_of(compiled.workflow, agent)
    if name is None or spec.output_model is None:
        if spec.output_model is not None and compiled.workflow.agent(agent).auto_tool_mode:
            LOG.warning("auto_tool_mode: %s has no auto_invoke tool; its output is only a message", agent)
        return None
    data = validated(spec.output_model, content)
    if data is None:
        return None
    tool = compiled.tools[name]
    kwargs = arguments(tool, data, context.to_dict(), agent)
    outcome = Outcome(name=name, arguments=dict(kwargs))
    if CONTEXT_PARAM in inspect.signature(tool.function).parameters:
        kwargs[CONTEXT_PARAM] = context
    # What the tool changes before a wait is not kept (the replay redoes it): the context as it was.
    before = copy.deepcopy(context.data)
    if interactions is not None:
        interactions.start()
    try:
        with executing(call, interactions) if call is not None else _nothing():
            result = _call(tool, kwargs, context)
    except UIWait:
        result = None
    except Exception as exc:
        if interactions is None or interactions.pending is None:
            LOG.warning("auto-invoked tool %s of %s failed", name, agent, exc_info=True)
            outcome.text, outcome.is_error = f"{type(exc).__name__}: {exc}", True
            return outcome
        result = None  # the tool swallowed its wait and failed after: the wait wins
    if interactions is not None and interactions.pending is not None:
        context.data.clear()
        context.data.update(before)
        outcome.wait = interactions.pending
        return outcome
    outcome.text = result if isinstance(result, str) else json.dumps(result, default=str)
    return outcome


def _call(tool: LoadedTool, kwargs: dict[str, Any], context: Any) -> Any:
    if tool.is_ui:
        # This runtime's own UI tools: the function builds what the client shows, the answer is the result.
        payload = tool.function(**kwargs)
        if not isinstance(payload, dict):
            payload = {"value": payload}
        ui = tool.spec.ui
        component = ui.component if ui is not None and ui.component else tool.spec.name
        display = str(ui.mode) if ui is not None and ui.mode else None
        answer = ask_ui(component, payload, display=display)  # type: ignore[arg-type]
        if tool.result_function is None:
            return answer
        if CONTEXT_PARAM in inspect.signature(tool.result_function).parameters:
            return tool.result_function(answer, context_variables=context)
        return tool.result_function(answer)
    result = tool.function(**kwargs)
    if inspect.isawaitable(result):
        # asyncio.run copies the current contextvars: ``use_ui_tool`` inside sees the call and its answers.
        result = asyncio.run(_awaited(result))
    return result


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def _awaited(result: Any) -> Any:
    return await result


def run_auto_tool(turn: Turn, agent: str, reply: ChatMessage) -> bool:
    """The reply's auto tool, right after the reply; True if one ran (or now waits: the step ends)."""
    outcome = _run(turn, agent, reply)
    if outcome is None:
        return False
    _report_call(turn, agent, reply, outcome)
    _finish(turn, agent, reply, outcome)
    return True


def resume_auto_tool(turn: Turn) -> ChatMessage:
    """The step that brings the user's answer: the tool again from the start, with the answers so far."""
    from runtime_core.engine.pausing import UI_ANSWERS

    pending = turn.state.engine.pop(AUTO_PENDING)
    agent = str(pending["agent"])
    reply = turn.state.messages[int(pending["seq"])]
    turn.handoff_reported = bool(pending.get("handoff_reported", False))
    outcome = _run(turn, agent, reply)
    if outcome is None:
        raise RuntimeError(f"the auto tool of {agent} that waited for the user is no longer invoked")
    _finish(turn, agent, reply, outcome)
    turn.state.engine.pop(UI_ANSWERS, None)  # the tool completed: its answers are spent
    return reply


def _run(turn: Turn, agent: str, reply: ChatMessage) -> Outcome | None:
    name = auto_tool_of(turn.workflow, agent)
    call = ToolCallInfo(
        session_id=turn.state.session_id,
        tool_name=name or "",
        tool_call_id=_call_id(reply),
        agent=agent,
        message_seq=reply.seq,
    )
    outcome = invoke(
        turn.compiled, agent, reply.content or "", turn.chat.context, call, turn.tool_run.interactions
    )
    turn.tool_run.guard(f"the auto tool of {agent}")
    turn._set_context({})
    return outcome


def _call_id(reply: ChatMessage) -> str:
    return f"auto-{reply.turn}"


def _shown(turn: Turn, agent: str, outcome: Outcome) -> bool:
    from runtime_core.engine.report import is_visible

    tool = turn.compiled.tools[outcome.name]
    return is_visible(turn.compiled, agent) or tool.is_ui or shows_ui(tool.spec)


def _report_call(turn: Turn, agent: str, reply: ChatMessage, outcome: Outcome) -> None:
    from runtime_core.events import ToolCallEvent
    from runtime_core.session import ToolCall

    if not _shown(turn, agent, outcome):
        return
    arguments = json.dumps(outcome.arguments, default=str)
    call = ToolCall(id=_call_id(reply), name=outcome.name, arguments=arguments)
    turn.out.emit(ToolCallEvent, agent=agent, call=call, ui=turn.compiled.tools[outcome.name].is_ui)


def _finish(turn: Turn, agent: str, reply: ChatMessage, outcome: Outcome) -> None:
    """The tool's result reported, or (it waits) the step ends with the request for the user's answer."""
    from runtime_core.events import ToolResult

    if outcome.wait is not None:
        from runtime_core.engine.pausing import Finished

        wait = outcome.wait
        turn.state.engine[AUTO_PENDING] = {
            "agent": agent,
            "seq": reply.seq,
            "handoff_reported": turn.handoff_reported,
        }
        arguments = json.loads(json.dumps(outcome.arguments, default=str))
        turn._await(turn._tool_wait_request(outcome.name, agent, _call_id(reply), arguments, wait), agent)
        raise Finished
    if _shown(turn, agent, outcome):
        turn.out.emit(
            ToolResult,
            agent=agent,
            tool_call_id=_call_id(reply),
            name=outcome.name,
            content=outcome.text,
            is_error=outcome.is_error,
        )

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
an error result and the chat goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.toolbox import LoadedTool
from runtime_core.workflow.spec import Tool, ToolKind, Workflow

LOG = logging.getLogger("runtime_core.tools")
CONTEXT_PARAM = "context_variables"
_METADATA = ("chat_id", "app_id", "workflow_name", "agent_name")


def auto_tool_of(workflow: Workflow, agent: str) -> str | None:
    """The tool an ``auto_tool_mode`` agent's output invokes, if any."""
    spec = workflow.agent(agent)
    if not spec.auto_tool_mode or spec.structured_output is None:
        return None
    for tool in workflow.tools:
        if agent not in tool.agents and tool.name not in spec.tools:
            continue
        if tool.auto_invoke or (tool.auto_invoke is None and _shows_ui(tool)):
            return tool.name
    return None


def _shows_ui(tool: Tool) -> bool:
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


def invoke(
    compiled: CompiledWorkflow, agent: str, content: str, context: Any
) -> tuple[str, str, bool] | None:
    """Run ``agent``'s auto tool on its reply ``content``: (tool name, result text, is_error), or None when
    nothing is invoked (no auto tool, or an output that does not validate)."""
    spec = compiled.agent(agent)
    name = auto_tool_of(compiled.workflow, agent)
    if name is None or spec.output_model is None:
        return None
    data = validated(spec.output_model, content)
    if data is None:
        return None
    tool = compiled.tools[name]
    if _shows_ui(tool.spec):
        # A UI tool waits for the user inside its body: not run this way yet (runtime_core.workflow.pending).
        return None
    kwargs = arguments(tool, data, context.to_dict(), agent)
    if CONTEXT_PARAM in inspect.signature(tool.function).parameters:
        kwargs[CONTEXT_PARAM] = context
    try:
        result = tool.function(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except Exception as exc:
        LOG.warning("auto-invoked tool %s of %s failed", name, agent, exc_info=True)
        return name, f"{type(exc).__name__}: {exc}", True
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    return name, text, False


async def _awaited(result: Any) -> Any:
    return await result


def auto_tool_events(
    out: Any, compiled: CompiledWorkflow, agent: str, content: str, context: Any, turn: int
) -> bool:
    """Invoke ``agent``'s auto tool on its reply and report the call and its result; True if it ran."""
    from runtime_core.engine.report import is_visible
    from runtime_core.events import ToolCallEvent, ToolResult
    from runtime_core.session import ToolCall

    before = dict(context.to_dict())
    outcome = invoke(compiled, agent, content, context)
    if outcome is None:
        return False
    name, text, is_error = outcome
    tool = compiled.tools[name]
    if not is_visible(compiled, agent) and not tool.is_ui:
        return True
    spec = compiled.agent(agent)
    assert spec.output_model is not None
    data = validated(spec.output_model, content) or {}
    shown_args = arguments(tool, data, before, agent)
    call = ToolCall(id=f"auto-{turn}", name=name, arguments=json.dumps(shown_args, default=str))
    out.emit(ToolCallEvent, agent=agent, call=call, ui=tool.is_ui)
    out.emit(ToolResult, agent=agent, tool_call_id=call.id, name=name, content=text, is_error=is_error)
    return True

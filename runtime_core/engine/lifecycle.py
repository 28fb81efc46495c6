"""Lifecycle tools (tools.yaml ``lifecycle_tools``) and AG2 hooks (hooks.yaml), run as the original ran them.

Lifecycle tools are functions run at points of the chat's life, never called by a model:

- ``before_chat``: once per session, when its first step starts the run, on the starting context;
- ``before_agent`` / ``after_agent``: around each reply of the named agent (no agent: every agent), in the
  step that makes the reply (``after_agent`` right after the reply, before any tool it calls runs);
- ``after_chat``: once, when the run completes.

Each gets ``context_variables`` (the group's ``ContextVariables``, with the runtime's read-only keys) when
its signature names it, and may change it in place: the step persists the context, so the change survives
per-step resume exactly as in an uninterrupted run. That ``before_chat`` and ``after_chat`` ran is recorded
in ``state.engine`` (``LIFECYCLE_DONE``), so a retried or resumed step never runs them twice. As in the
original runtime a failing lifecycle tool is logged and the chat goes on.

Hooks are registered on the agents with AG2's ``ConversableAgent.register_hook``. Their effects are
deterministic across steps: ``update_agent_state`` and ``process_last_received_message`` run only inside a
reply (never when a step replays the transcript); ``process_message_before_send`` runs again on each replay
of the agent's messages (the transcript keeps each reply as generated, and the hook rebuilds what the group
saw), with any context change it makes during a replay undone (``engine.turn``), so it counts once, as in
AG2's own loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime_core.engine.toolbox import ToolLoadError, _import
from runtime_core.workflow.spec import Workflow
from runtime_core.workflow.spec_base import LifecycleTrigger

LOG = logging.getLogger("runtime_core.tools")

# state.engine key: the chat-level triggers that already ran for this session.
LIFECYCLE_DONE = "lifecycle_done"


@dataclass(frozen=True)
class LifecycleCall:
    trigger: LifecycleTrigger
    agent: str | None
    name: str
    function: Callable[..., Any]
    takes_context: bool


def _function(workflow: Workflow, file: str, function: str) -> Callable[..., Any]:
    module = _import(workflow, file)
    found = getattr(module, function, None)
    if not callable(found):
        raise ToolLoadError(f"{file} has no function {function}")
    return found


def load_lifecycle(workflow: Workflow) -> tuple[LifecycleCall, ...]:
    calls = []
    for tool in workflow.lifecycle_tools:
        fn = _function(workflow, tool.file, tool.function)
        takes = "context_variables" in inspect.signature(fn).parameters
        calls.append(LifecycleCall(tool.trigger, tool.agent, tool.function, fn, takes))
    return tuple(calls)


def load_hooks(workflow: Workflow) -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    """(agent or "all", hook type, function) for each hooks.yaml entry, in the order written."""
    return tuple((h.agent, h.type.value, _function(workflow, h.file, h.function)) for h in workflow.hooks)


def register_hooks(agent: Any, hooks: tuple[tuple[str, str, Callable[..., Any]], ...]) -> None:
    for who, kind, fn in hooks:
        if who in ("all", agent.name):
            agent.register_hook(kind, fn)


def run_lifecycle(
    calls: tuple[LifecycleCall, ...], trigger: LifecycleTrigger, context: Any, agent: str | None = None
) -> None:
    """Run the lifecycle tools of ``trigger`` (for ``agent``, when agent-level) on ``context``."""
    for call in calls:
        if call.trigger != trigger or (agent is not None and call.agent not in (None, agent)):
            continue
        kwargs = {"context_variables": context} if call.takes_context else {}
        try:
            result = call.function(**kwargs)
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
        except Exception as exc:
            # The message, not the traceback: a failing lifecycle tool is expected to be survivable.
            LOG.warning(
                "lifecycle tool %s (%s) failed (%s: %s); the chat goes on",
                call.name,
                trigger.value,
                type(exc).__name__,
                exc,
            )


async def _awaited(result: Any) -> Any:
    return await result

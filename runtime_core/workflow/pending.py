"""Settings loaded into the spec whose runtime behaviour this project does not have yet: one list.

Each entry finds its settings in a validated workflow and says what happens instead; ``mozaiks validate``
prints one warning per setting found, naming file, line and field. When the engine learns one of these,
its entry leaves ``PENDING`` (and the docs' "loaded, not yet run" table), nothing else changes.

``NOTICES`` are found and reported the same way: settings that run as in the original runtime, or that this
runtime decided not to provide (``data_entity``), where what happens deserves a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.spec import (
    USER_TARGET,
    OrchestrationStrategy,
    StartupMode,
    Tool,
    ToolKind,
    Workflow,
)
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path

# (file, path in this runtime's shape, message)
Finding = tuple[str, FieldPath, str]


@dataclass(frozen=True)
class PendingFeature:
    key: str
    find: Callable[[Workflow], Iterator[Finding]]


def _data_entities(wf: Workflow) -> Iterator[Finding]:
    """A decision, not pending: the original handed tools a live MongoDB writer in the context (the
    variable's value: ``create`` / ``update`` / ``flush`` on ``database_name.collection``, not scoped to a
    tenant). Here the context is JSON persisted between stateless steps, a step's tools may run again
    (replay, retries), and every store access is scoped to the verified tenant: no such object is given."""
    for index, var in enumerate(wf.context_variables):
        if var.source == "data_entity":
            yield (
                "context_variables.yaml",
                ("context_variables", index, "source"),
                f"source data_entity: the original runtime's writer for a workflow-owned collection is not "
                f"provided by this runtime (the context is persisted JSON, tools may run again, and store "
                f"access is tenant-scoped); '{var.name}' is its default ({var.default!r}), so a tool calling "
                "create/update on it fails",
            )


def _auto_tool_without_tool(wf: Workflow) -> Iterator[Finding]:
    """Not pending: the original's own behaviour (no tool bound, the output stays a message), said once."""
    for index, agent in enumerate(wf.agents):
        if not agent.auto_tool_mode or agent.structured_output is None:
            # Without a model it calls its tools itself (a warning of the original dialect's loader).
            continue
        tools = [t for t in wf.tools if agent.name in t.agents or t.name in agent.tools]
        if not any(t.auto_invoke or (t.auto_invoke is None and _shows_ui(t)) for t in tools):
            yield (
                "agents.yaml",
                ("agents", index, "auto_tool_mode"),
                f"auto_tool_mode: {agent.name} has no auto_invoke tool (nor a UI tool); as in the original "
                "runtime it gets no tools and its structured output is only a message",
            )


def _shows_ui(tool: Tool) -> bool:
    """A UI tool: kind ui, or (original dialect) a tool with a ui component that waits for the user."""
    return tool.kind == ToolKind.ui or (tool.ui is not None and tool.ui.component is not None)


def _user_handoffs(wf: Workflow) -> Iterator[Finding]:
    has_user = (
        wf.orchestrator.orchestration_strategy == OrchestrationStrategy.handoff_based
        or wf.orchestrator.human_in_the_loop
    )
    for index, handoff in enumerate(wf.handoffs):
        if handoff.from_agent != USER_TARGET:
            continue
        if not has_user:
            yield (
                "handoffs.yaml",
                ("handoffs", index),
                "a rule from the user in a workflow without the user (human_in_the_loop: false): never used",
            )


def _greeting(wf: Workflow) -> Iterator[Finding]:
    orch = wf.orchestrator
    has_user = orch.orchestration_strategy == OrchestrationStrategy.handoff_based or orch.human_in_the_loop
    if orch.initial_message_to_user and orch.startup_mode == StartupMode.user_first and not has_user:
        yield (
            "orchestrator.yaml",
            ("initial_message_to_user",),
            "a greeting in a workflow without the user (human_in_the_loop: false): never shown",
        )


def _runtime_extensions(wf: Workflow) -> Iterator[Finding]:
    for index, extension in enumerate(wf.orchestrator.runtime_extensions or []):
        yield (
            "orchestrator.yaml",
            ("runtime_extensions", index),
            f"runtime extension {extension.kind or '?'} ({extension.entrypoint or 'no entrypoint'}) is not "
            "supported by this runtime; it is not loaded",
        )


PENDING: tuple[PendingFeature, ...] = (
    PendingFeature("user_handoffs", _user_handoffs),
    PendingFeature("greeting", _greeting),
    PendingFeature("runtime_extensions", _runtime_extensions),
)


# Settings that run, but not as a reader might expect: what the runtime does is said once, with file and line.
NOTICES: tuple[PendingFeature, ...] = (
    PendingFeature("auto_tool_without_tool", _auto_tool_without_tool),
    PendingFeature("data_entity", _data_entities),
)


def pending_warnings(workflow: Workflow, lines: dict[str, LineMap]) -> list[WorkflowError]:
    """One warning per loaded-but-not-run setting of ``workflow``, and per notice."""
    out = []
    for feature in (*PENDING, *NOTICES):
        for file, path, message in feature.find(workflow):
            line_map = lines.get(file)
            line = line_map.line_of(path) if line_map is not None else None
            out.append(WorkflowError(file=file, line=line, field=format_path(path), message=message))
    return out

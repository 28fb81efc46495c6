"""Checks of the functions hooks and lifecycle tools name: their file and function exist, their agent too.

They are loaded, not yet run (``runtime_core.workflow.pending``), but a reference that could never resolve
is an error now, as it was for the original runtime when it loaded the workflow: a later engine that runs
them must not meet a workflow that validated with a missing file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.tool_source import ToolSource, check_tool_path, read_tool_source
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path


def check_function_refs(
    hooks: list[tuple[int, Any]],
    lifecycle: list[tuple[int, Any]],
    agents: list[str] | None,
    lines: dict[str, LineMap],
    root: Path,
) -> list[WorkflowError]:
    errors: list[WorkflowError] = []
    sources: dict[str, ToolSource] = {}

    def add(file: str, path: FieldPath, message: str) -> None:
        line_map = lines.get(file)
        line = line_map.line_of(path) if line_map is not None else None
        errors.append(WorkflowError(file=file, line=line, field=format_path(path), message=message))

    entries = [("hooks.yaml", ("hooks", i), h) for i, h in hooks]
    entries += [("tools.yaml", ("lifecycle_tools", i), t) for i, t in lifecycle]
    for file, at, item in entries:
        agent = getattr(item, "agent", None)
        if agent not in (None, "all") and agents is not None and agent not in agents:
            add(file, (*at, "agent"), f"unknown agent '{agent}'{did_you_mean(agent, agents)}")
        problem = check_tool_path(item.file)
        if problem is not None:
            add(file, (*at, "file"), problem)
            continue
        if item.file not in sources:
            sources[item.file] = read_tool_source(root, item.file)
        source = sources[item.file]
        if source.functions is None:
            add(file, (*at, "file"), "; ".join(p.message for p in source.problems) or "cannot be read")
        elif item.function not in source.functions:
            add(
                file,
                (*at, "function"),
                f"function '{item.function}' is not defined at the top level of {item.file}"
                f"{did_you_mean(item.function, source.functions)}",
            )
    return errors

"""What the cross-file checks share: the entries each file contributed, and the report errors go into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.spec import (
    Agent,
    ContextVariable,
    Handoff,
    Orchestrator,
    OutputModel,
    Tool,
    VariableType,
)
from runtime_core.workflow.spec_base import Dialect, Hook, LifecycleTool
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path


@dataclass
class Files:
    """What the cross-checks see of each file.

    Items are the entries that passed their own shape check, with their index in the file, so that one bad
    entry does not hide the errors of the others. ``names`` holds, per file, the ``name`` of every entry as
    written (valid or not): a reference to an entry with a bad field is not also an "unknown" reference. A
    file that could not be read at all has no names (None), and references into it are not checked.
    """

    orchestrator: Orchestrator | None = None
    agents: list[tuple[int, Agent]] = field(default_factory=list)
    handoffs: list[tuple[int, Handoff]] = field(default_factory=list)
    tools: list[tuple[int, Tool]] = field(default_factory=list)
    context_variables: list[tuple[int, ContextVariable]] = field(default_factory=list)
    models: list[tuple[int, OutputModel]] = field(default_factory=list)
    names: dict[str, list[str] | None] = field(default_factory=dict)
    # File name -> line map, for every file that parsed.
    lines: dict[str, LineMap] = field(default_factory=dict)
    hooks: list[tuple[int, Hook]] = field(default_factory=list)
    lifecycle_tools: list[tuple[int, LifecycleTool]] = field(default_factory=list)
    # The original dialect allows what its runtime did: conditional after-works (expression rules).
    dialect: Dialect = Dialect.mozaiks


class Report:
    def __init__(self, files: Files) -> None:
        self.files = files
        self.errors: list[WorkflowError] = []

    def add(self, file: str, path: FieldPath, message: str, line: int | None = None) -> None:
        if line is None:
            lines = self.files.lines.get(file)
            line = lines.line_of(path) if lines is not None else None
        self.errors.append(WorkflowError(file=file, line=line, field=format_path(path), message=message))


def duplicates(report: Report, file: str, key: str, items: list[tuple[int, Any]], what: str) -> None:
    first: dict[str, int] = {}
    lines = report.files.lines.get(file, LineMap())
    for index, item in items:
        path = (key, index, "name")
        if item.name in first:
            report.add(file, path, f"duplicate {what} name '{item.name}' (first at line {first[item.name]})")
        else:
            first[item.name] = lines.line_of(path)


def matches_type(kind: VariableType, value: Any) -> bool:
    checks = {
        VariableType.str: lambda v: isinstance(v, str),
        VariableType.int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        VariableType.float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        VariableType.bool: lambda v: isinstance(v, bool),
        VariableType.list: lambda v: isinstance(v, list),
        VariableType.dict: lambda v: isinstance(v, dict),
    }
    return checks[kind](value)

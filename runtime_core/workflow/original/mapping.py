"""Rewriting one parsed file of the original dialect into this runtime's shape, keeping every line number.

A translated value is written at a new path (``handoffs[0].from_agent``) and remembers the path it came from
(``handoff_rules[0].source_agent``): the new line map points each new path at the original line, and errors
found on the translated data are renamed back to the field as the author wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path


@dataclass
class Translation:
    """One file after translation: the data in this runtime's shape, its lines, and the way back."""

    file: str
    data: Any
    lines: LineMap
    # Formatted new path -> formatted original path.
    origin: dict[str, str] = field(default_factory=dict)
    errors: list[WorkflowError] = field(default_factory=list)
    warnings: list[WorkflowError] = field(default_factory=list)
    # The line map of the file as written, for messages about its original fields.
    source: LineMap = field(default_factory=LineMap)

    def map_from_source(self, new: FieldPath, old: FieldPath) -> None:
        """Point ``new`` at ``old`` of the file as written (after the translation is built)."""
        self.lines.lines[new] = self.source.line_of(old)
        self.origin[format_path(new)] = format_path(old)

    def out_error(self, old: FieldPath, message: str) -> None:
        self.errors.append(
            WorkflowError(
                file=self.file, line=self.source.line_of(old), field=format_path(old), message=message
            )
        )

    def warn(self, old: FieldPath, message: str) -> None:
        self.warnings.append(
            WorkflowError(
                file=self.file, line=self.source.line_of(old), field=format_path(old), message=message
            )
        )


class Writer:
    """Builds a ``Translation``: ``put`` a value at a new path, remembering where it was written."""

    def __init__(self, file: str, source: LineMap) -> None:
        self.source = source
        self.out = Translation(file=file, data=None, lines=LineMap(), source=source)

    def line(self, old: FieldPath) -> int:
        return self.source.line_of(old)

    def map(self, new: FieldPath, old: FieldPath) -> None:
        """``new`` (and everything under it not mapped on its own) comes from ``old``."""
        self.out.lines.lines[new] = self.line(old)
        self.out.origin[format_path(new)] = format_path(old)

    def copy_lines(self, new: FieldPath, old: FieldPath, value: Any) -> None:
        """A value copied as it is: every path inside it keeps its own line."""
        self.map(new, old)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    self.copy_lines((*new, key), (*old, key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.copy_lines((*new, index), (*old, index), item)

    def error(self, old: FieldPath, message: str) -> None:
        self.out.errors.append(self._at(old, message))

    def warn(self, old: FieldPath, message: str) -> None:
        self.out.warnings.append(self._at(old, message))

    def _at(self, old: FieldPath, message: str) -> WorkflowError:
        return WorkflowError(file=self.out.file, line=self.line(old), field=format_path(old), message=message)


def rename_field(field_text: str, origin: dict[str, str]) -> str:
    """``handoffs[0].from_agent`` -> ``handoff_rules[0].source_agent``: the longest mapped prefix, renamed."""
    cut = len(field_text)
    while cut > 0:
        prefix = field_text[:cut]
        if prefix in origin:
            return origin[prefix] + field_text[cut:]
        # Step back one segment: to the last '.' or '['.
        cut = max(field_text.rfind(".", 0, cut), field_text.rfind("[", 0, cut))
    return field_text


def entries(value: Any) -> list[tuple[str | int, str | None, Any]]:
    """A list of named mappings or a name -> mapping mapping, as (key in the file, name, entry).

    Both shapes occur in the original workflows (``agents:`` as a list with ``name`` and as a mapping).
    """
    if isinstance(value, dict):
        return [(key, str(key), item) for key, item in value.items()]
    if isinstance(value, list):
        out: list[tuple[str | int, str | None, Any]] = []
        for index, item in enumerate(value):
            name = item.get("name") if isinstance(item, dict) else None
            out.append((index, name if isinstance(name, str) else None, item))
        return out
    return []


def truthy(value: Any) -> Any:
    """The original runtime read yes/no flags leniently ("true", "yes", 1); anything else stays for the
    model to refuse."""
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "on", "always"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "0", "off", "never"}:
        return False
    return value

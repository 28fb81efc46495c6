"""Parse one YAML file into plain data plus a map from each field path to its 1-based line.

Only PyYAML's safe machinery is used (``SafeLoader`` compose + construct): no tag can build an arbitrary
Python object. Composing first keeps the node marks, which is how pydantic's error locations get their line
numbers, and lets us catch duplicate keys, which PyYAML otherwise resolves silently (last one wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runtime_core.workflow.errors import WorkflowError

# A path inside a file: mapping keys and list indexes, as in pydantic's error ``loc``.
FieldPath = tuple[str | int, ...]


def format_path(path: FieldPath) -> str:
    """``("agents", 1, "llm_config", "model")`` -> ``agents[1].llm_config.model``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class LineMap:
    """Line of every path of one document. A mapping entry maps to its key's line, a list item to its dash."""

    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        # The deepest known prefix: a missing field points at the mapping that lacks it.
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


@dataclass
class ParsedFile:
    data: Any
    lines: LineMap
    errors: list[WorkflowError]
    # True when the file holds no document at all (empty, or only comments).
    empty: bool = False


def _syntax_error(file: str, exc: yaml.MarkedYAMLError, text: str) -> WorkflowError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or "invalid YAML"
    source_line = text.splitlines()[line - 1] if mark is not None and line <= len(text.splitlines()) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    if "\t" in indent or "'\\t'" in problem:
        # PyYAML's wording ("found character '\t' that cannot start any token") hides the usual cause.
        return WorkflowError(
            file=file, line=line, field="", message="tab character in indentation; YAML indents with spaces"
        )
    if "another document" in problem:
        return WorkflowError(
            file=file,
            line=line,
            field="",
            message="a workflow file holds one YAML document; remove the second '---'",
        )
    context = ""
    if exc.context:
        started = exc.context_mark.line + 1 if exc.context_mark is not None else None
        context = f" ({exc.context}" + (
            f" started at line {started})" if started and started != line else ")"
        )
    if "could not determine a constructor" in problem:
        # Tags such as !!python/object: the safe loader refuses them; say so plainly.
        tag = problem.rsplit("tag ", 1)[-1]
        return WorkflowError(
            file=file, line=line, field="", message=f"YAML tag {tag} is not allowed: plain data only"
        )
    return WorkflowError(file=file, line=line, field="", message=f"invalid YAML: {problem}{context}")


# A workflow file is a few hundred nodes. Aliases let a small file expand to billions of paths ("billion
# laughs"); validation runs on untrusted folders, so the walk stops at a budget instead of hanging.
MAX_NODES = 50_000
MAX_CHARS = 1_000_000


class _TooLarge(Exception):
    pass


class _Walker:
    """Records the line of every path and the duplicate keys, visiting at most ``MAX_NODES`` nodes."""

    def __init__(self, file: str, lines: LineMap) -> None:
        self.file = file
        self.lines = lines
        self.errors: list[WorkflowError] = []
        self.remaining = MAX_NODES

    def walk(self, node: Node, path: FieldPath) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise _TooLarge
        if isinstance(node, MappingNode):
            self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.lines.lines[(*path, index)] = item.start_mark.line + 1
                self.walk(item, (*path, index))

    def _mapping(self, node: MappingNode, path: FieldPath) -> None:
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._error(line, path, "keys must be plain names, not lists or mappings")
                continue
            key = key_node.value
            if key in seen:
                self._error(line, (*path, key), f"duplicate key '{key}' (first at line {seen[key]})")
                continue
            seen[key] = line
            self.lines.lines[(*path, key)] = line
            self.walk(value_node, (*path, key))

    def _error(self, line: int, path: FieldPath, message: str) -> None:
        self.errors.append(WorkflowError(file=self.file, line=line, field=format_path(path), message=message))


def _failed(file: str, line: int, message: str) -> ParsedFile:
    return ParsedFile(
        data=None, lines=LineMap(), errors=[WorkflowError(file=file, line=line, field="", message=message)]
    )


def parse_yaml(text: str, file: str) -> ParsedFile:
    """Parse ``text`` (the content of ``file``); never raises on bad input, returns errors instead."""
    if len(text) > MAX_CHARS:
        return _failed(file, 1, f"file is larger than {MAX_CHARS} characters")
    lines = LineMap()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return ParsedFile(data=None, lines=lines, errors=[_syntax_error(file, exc, text)])
    except yaml.YAMLError as exc:
        return _failed(file, 1, f"invalid YAML: {exc}")
    except RecursionError:
        return _failed(file, 1, "YAML nested too deeply")
    if root is None:
        return ParsedFile(data=None, lines=lines, errors=[], empty=True)
    lines.lines[()] = root.start_mark.line + 1
    walker = _Walker(file, lines)
    try:
        walker.walk(root, ())
    except _TooLarge:
        return _failed(file, 1, f"YAML expands to more than {MAX_NODES} values (aliases used as a bomb?)")
    except RecursionError:
        return _failed(file, 1, "YAML nested too deeply")
    errors = walker.errors
    try:
        data = yaml.SafeLoader("").construct_document(root)
    except yaml.MarkedYAMLError as exc:
        # Constructor errors: an unknown tag such as !!python/object, a bad timestamp, a bad merge key.
        errors.append(_syntax_error(file, exc, text))
        data = None
    except RecursionError:
        return _failed(file, 1, "YAML nested too deeply")
    return ParsedFile(data=data, lines=lines, errors=errors)

"""``source: file`` context variables: a file of the workflow folder read when a session starts.

The file is read safely: its path must stay inside the workflow folder (no absolute path, no ``..`` or
symlink leading out), it must be a regular file (a symlink to a device or a FIFO would block or never end),
and it is refused from its size alone when larger than ``MAX_BYTES`` (never read whole first). ``format``
says how to read it: ``json``, ``yaml`` or ``text``; unset, the file's suffix decides (``.json``, ``.yaml`` /
``.yml``, anything else is text). The value must match the variable's ``type``.

A variable of the original dialect (``from_workflows_root``) may also name, as the original runtime did from
its repository root, a file of the workflows root: ``workflows/<rest>`` not found in the workflow folder is
``<rest>`` in the folder that holds the workflow's folder, still never out of it (no ``..``, absolute path or
symlink leading out). Its ``missing: default`` keeps the default, with a warning, when the file is not found
(the original's source without ``required: true``); every other fault stays an error.

``mozaiks validate`` reads each such file once and reports what is wrong at the line of its ``path``; the
engine reads it again when a session starts and persists the value with the session's context, so a
session resumed later (or in another process) keeps the value it started with even if the file changed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.spec import ContextVariable, VariableSource, VariableType, Workflow
from runtime_core.workflow.yaml_source import LineMap, format_path

MAX_BYTES = 1_000_000
FORMATS = ("json", "yaml", "text")

_PYTHON_TYPES: dict[VariableType, tuple[type, ...]] = {
    VariableType.str: (str,),
    VariableType.int: (int,),
    VariableType.float: (int, float),
    VariableType.bool: (bool,),
    VariableType.list: (list,),
    VariableType.dict: (dict,),
}


class ContextFileError(ValueError):
    """Why a ``source: file`` variable cannot be read (the message names no absolute path)."""


class ContextFileMissing(ContextFileError):
    """The file is not found where the variable may read it."""


# The first part of an original-dialect path that names the workflows root (its repository's workflows/).
WORKFLOWS_PREFIX = "workflows"


def _format(var: ContextVariable) -> str:
    if var.format:
        return var.format.lower()
    suffix = PurePosixPath(var.path or "").suffix.lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "text")


def _safe_path(root: Path, var: ContextVariable) -> Path:
    relative = var.path or ""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ContextFileError(f"path {relative!r} must be relative to the workflow folder, without '..'")
    base = root.resolve()
    target = (base / pure).resolve()
    if not target.is_relative_to(base):
        raise ContextFileError(f"path {relative!r} leads out of the workflow folder")
    if os.path.lexists(target) or not var.from_workflows_root:
        return target
    workflows = base.parent
    if pure.parts[0] != WORKFLOWS_PREFIX or len(pure.parts) < 2 or workflows == Path(workflows.anchor):
        raise ContextFileMissing(f"file {relative!r} not found in the workflow folder")
    outer = (workflows / PurePosixPath(*pure.parts[1:])).resolve()
    if not outer.is_relative_to(workflows):
        raise ContextFileError(f"path {relative!r} leads out of the workflows root")
    if not os.path.lexists(outer):
        raise ContextFileMissing(f"file {relative!r} not found in the workflow folder nor the workflows root")
    return outer


def read_context_file(root: Path, var: ContextVariable) -> Any:
    """The value of a ``source: file`` variable, read from ``root`` (the workflow folder)."""
    if var.path is None:
        raise ContextFileError("source file needs path, the file to read (relative to the workflow folder)")
    kind = _format(var)
    if kind not in FORMATS:
        raise ContextFileError(f"unknown format {var.format!r}; expected one of: {', '.join(FORMATS)}")
    target = _safe_path(root, var)
    try:
        info = target.stat()
    except OSError:
        raise ContextFileMissing(f"file {var.path!r} not found in the workflow folder") from None
    if not stat.S_ISREG(info.st_mode):
        raise ContextFileError(f"{var.path!r} is not a regular file (a device, FIFO or folder?)")
    if info.st_size > MAX_BYTES:
        raise ContextFileError(f"file {var.path!r} is larger than {MAX_BYTES} bytes")
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it does not hang.
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ContextFileError(f"cannot read {var.path!r}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ContextFileError(f"file {var.path!r} is larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ContextFileError(f"file {var.path!r} is not UTF-8 text") from None
    value = _parse(text, kind, var.path)
    allowed = _PYTHON_TYPES[var.type]
    if not isinstance(value, allowed) or (var.type != VariableType.bool and isinstance(value, bool)):
        raise ContextFileError(
            f"file {var.path!r} holds a {type(value).__name__}, but the variable's type is {var.type.value}"
        )
    return value


def _parse(text: str, kind: str, path: str) -> Any:
    if kind == "text":
        return text
    try:
        if kind == "json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ContextFileError(f"file {path!r} is not valid {kind}: {first}") from None


def context_file_value(root: Path, var: ContextVariable) -> tuple[Any, str | None]:
    """The value of a ``source: file`` variable and, when its missing file leaves the default, why."""
    try:
        return read_context_file(root, var), None
    except ContextFileMissing as exc:
        if var.missing != "default":
            raise
        return (
            var.default,
            f"{exc}: '{var.name}' keeps its default ({var.default!r}), as in the original runtime",
        )


def file_variables(workflow: Workflow) -> list[ContextVariable]:
    return [v for v in workflow.context_variables if v.source == VariableSource.file]


def check_context_files(
    workflow: Workflow, lines: dict[str, LineMap]
) -> tuple[list[WorkflowError], list[WorkflowError]]:
    """Per ``source: file`` variable whose file cannot be read, an error at the line of its ``path``; a
    warning instead when the file is missing and the variable keeps its default."""
    errors, warnings = [], []
    line_map = lines.get("context_variables.yaml")
    for index, var in enumerate(workflow.context_variables):
        if var.source != VariableSource.file:
            continue
        at = ("context_variables", index, "path")
        try:
            _, missing = context_file_value(workflow.root, var)
        except ContextFileError as exc:
            errors.append(_at(line_map, at, str(exc)))
            continue
        if missing is not None:
            warnings.append(_at(line_map, at, missing))
    return errors, warnings


def _at(line_map: LineMap | None, at: tuple[str, int, str], message: str) -> WorkflowError:
    line = line_map.line_of(at) if line_map is not None else None
    return WorkflowError(file="context_variables.yaml", line=line, field=format_path(at), message=message)

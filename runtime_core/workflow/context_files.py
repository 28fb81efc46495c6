"""``source: file`` context variables: a file of the workflow folder read when a session starts.

The file is read safely: its path must stay inside the workflow folder (no absolute path, no ``..`` or
symlink leading out), it must be a regular file (a symlink to a device or a FIFO would block or never end),
and it is refused from its size alone when larger than ``MAX_BYTES`` (never read whole first). ``format``
says how to read it: ``json``, ``yaml`` or ``text``; unset, the file's suffix decides (``.json``, ``.yaml`` /
``.yml``, anything else is text). The value must match the variable's ``type``.

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


def _format(var: ContextVariable) -> str:
    if var.format:
        return var.format.lower()
    suffix = PurePosixPath(var.path or "").suffix.lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "text")


def _safe_path(root: Path, relative: str) -> Path:
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ContextFileError(f"path {relative!r} must be relative to the workflow folder, without '..'")
    base = root.resolve()
    target = (base / pure).resolve()
    if not target.is_relative_to(base):
        raise ContextFileError(f"path {relative!r} leads out of the workflow folder")
    return target


def read_context_file(root: Path, var: ContextVariable) -> Any:
    """The value of a ``source: file`` variable, read from ``root`` (the workflow folder)."""
    if var.path is None:
        raise ContextFileError("source file needs path, the file to read (relative to the workflow folder)")
    kind = _format(var)
    if kind not in FORMATS:
        raise ContextFileError(f"unknown format {var.format!r}; expected one of: {', '.join(FORMATS)}")
    target = _safe_path(root, var.path)
    try:
        info = target.stat()
    except OSError:
        raise ContextFileError(f"file {var.path!r} not found in the workflow folder") from None
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


def file_variables(workflow: Workflow) -> list[ContextVariable]:
    return [v for v in workflow.context_variables if v.source == VariableSource.file]


def check_context_files(workflow: Workflow, lines: dict[str, LineMap]) -> list[WorkflowError]:
    """One error per ``source: file`` variable whose file cannot be read, at the line of its ``path``."""
    errors = []
    line_map = lines.get("context_variables.yaml")
    for index, var in enumerate(workflow.context_variables):
        if var.source != VariableSource.file:
            continue
        try:
            read_context_file(workflow.root, var)
        except ContextFileError as exc:
            at = ("context_variables", index, "path")
            line = line_map.line_of(at) if line_map is not None else None
            errors.append(
                WorkflowError(
                    file="context_variables.yaml", line=line, field=format_path(at), message=str(exc)
                )
            )
    return errors

"""Load a workflow folder into a validated ``Workflow``, or raise every error of it at once.

Each file is parsed with line tracking (``yaml_source``), shape-checked against its pydantic model
(``shape_errors``), then the files are checked against each other (``crosscheck``). Nothing stops at the first
error: a person fixing a workflow sees the whole list in one run.

Empty files: an empty (or comments-only) optional file means the same as an absent one; an empty required file
(orchestrator.yaml, agents.yaml) is an error.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime_core.workflow.check_report import Files
from runtime_core.workflow.context_files import check_context_files, file_variables
from runtime_core.workflow.crosscheck import crosscheck
from runtime_core.workflow.errors import WorkflowError, WorkflowValidationError
from runtime_core.workflow.original import UI_CONFIG, Parsed, rename_field, translate_folder
from runtime_core.workflow.pending import pending_warnings
from runtime_core.workflow.references import check_references
from runtime_core.workflow.shape_errors import validation_errors
from runtime_core.workflow.spec import (
    FILE_MODELS,
    REQUIRED_FILES,
    Agent,
    ContextVariable,
    Handoff,
    Hook,
    Orchestrator,
    OutputModel,
    Tool,
    Workflow,
)
from runtime_core.workflow.spec_base import Dialect, LifecycleTool
from runtime_core.workflow.suggestions import closest
from runtime_core.workflow.tool_source import TOOLS_DIR
from runtime_core.workflow.yaml_source import MAX_CHARS, ParsedFile, parse_yaml


def hashed_files(root: Path) -> list[Path]:
    """The files that make up a workflow: the known YAML files and the tool sources. Nothing else (an engine's
    offline ``script.yaml``, notes, caches) changes the hash."""
    files = [root / name for name in (*FILE_MODELS, UI_CONFIG) if (root / name).is_file()]
    tools = root / TOOLS_DIR
    if tools.is_dir():
        files.extend(p for p in tools.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def content_hash(root: Path) -> str:
    """sha256 over the names and bytes of ``hashed_files``: the cache key of a compiled workflow."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in hashed_files(root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


# Files a workflow folder may hold besides its own: the scripted model's script and the original dialect's
# ui_config.yaml (read by runtime_core.workflow.original).
_KNOWN_EXTRA = {"script.yaml", UI_CONFIG}


def _stray_files(root: Path) -> tuple[list[WorkflowError], list[WorkflowError]]:
    """Files the loader does not read. A name close to a known one (``handoff.yaml``) is an error: its rules
    would be dropped; any other YAML or JSON file is a warning naming it: nothing is ignored silently."""
    errors, warnings = [], []
    known = list(FILE_MODELS)
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml"), *root.glob("*.json")]):
        if path.name in FILE_MODELS or path.name in _KNOWN_EXTRA:
            continue
        match = closest(path.name, known)
        if match is not None and not (root / match).exists():
            errors.append(
                WorkflowError(
                    file=path.name,
                    line=None,
                    field="",
                    message=f"unknown workflow file; did you mean '{match}'? (it is ignored under this name)",
                )
            )
        else:
            warnings.append(
                WorkflowError(file=path.name, line=None, field="", message="not a workflow file; not read")
            )
    return errors, warnings


# List files: file -> (top-level key, model of one entry, attribute of ``Files``). Entries are also checked
# one by one, so that when the file as a whole fails the cross-checks still see its good entries.
_LIST_ENTRIES: dict[str, tuple[str, type[BaseModel], str]] = {
    "agents.yaml": ("agents", Agent, "agents"),
    "handoffs.yaml": ("handoffs", Handoff, "handoffs"),
    "tools.yaml": ("tools", Tool, "tools"),
    "context_variables.yaml": ("context_variables", ContextVariable, "context_variables"),
    "structured_outputs.yaml": ("models", OutputModel, "models"),
    "hooks.yaml": ("hooks", Hook, "hooks"),
}


def _read(root: Path, name: str) -> tuple[ParsedFile | None, list[WorkflowError]]:
    """The parsed file (None when absent or unreadable) and why it could not be read.

    Never opens anything but a regular file (a symlink to a device or a FIFO would block or never end), and
    never reads more than the size limit: a huge file is refused from its size alone.
    """
    path = root / name
    if not os.path.lexists(path):
        return None, []
    try:
        info = path.stat()
    except OSError as exc:
        return None, [WorkflowError(file=name, line=None, field="", message=f"cannot read: {exc.strerror}")]
    if not stat.S_ISREG(info.st_mode):
        return None, [
            WorkflowError(
                file=name, line=None, field="", message="not a regular file (a device, FIFO or folder?)"
            )
        ]
    # UTF-8 text has at most 4 bytes per character.
    if info.st_size > 4 * MAX_CHARS:
        return None, [
            WorkflowError(file=name, line=1, field="", message=f"file is larger than {MAX_CHARS} characters")
        ]
    try:
        with path.open("rb") as handle:
            text = handle.read(4 * MAX_CHARS + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [WorkflowError(file=name, line=None, field="", message=f"not UTF-8 text: {exc.reason}")]
    except OSError as exc:
        return None, [WorkflowError(file=name, line=None, field="", message=f"cannot read: {exc.strerror}")]
    return parse_yaml(text, name), []


def _load_file(
    name: str, model: type[BaseModel], read: tuple[ParsedFile | None, list[WorkflowError]], files: Files
) -> tuple[Any, list[WorkflowError]]:
    """The file's model (None when absent or invalid) and its own errors; fills ``files`` for crosscheck."""
    parsed, read_errors = read
    if parsed is None:
        files.names[name] = None if (name in REQUIRED_FILES or read_errors) else []
        if read_errors:
            return None, read_errors
        if name in REQUIRED_FILES:
            return None, [WorkflowError(file=name, line=None, field="", message="required file is missing")]
        return None, []
    files.lines[name] = parsed.lines
    if parsed.empty:
        if name in REQUIRED_FILES:
            files.names[name] = None
            return None, [WorkflowError(file=name, line=1, field="", message="required file is empty")]
        files.names[name] = []
        return model.model_validate({}), []
    if parsed.data is None and parsed.errors:
        files.names[name] = None
        return None, parsed.errors
    try:
        value = model.model_validate(parsed.data)
        errors = parsed.errors
    except ValidationError as exc:
        value = None
        errors = [*parsed.errors, *validation_errors(exc, model, parsed.data, name, parsed.lines)]
    _collect_entries(name, parsed.data, files)
    return (value if not errors else None), errors


def _collect_entries(name: str, data: Any, files: Files) -> None:
    if name == "orchestrator.yaml":
        files.orchestrator = _partial_orchestrator(data)
        return
    if name == "tools.yaml" and isinstance(data, dict) and isinstance(data.get("lifecycle_tools"), list):
        files.lifecycle_tools = _valid_entries(data["lifecycle_tools"], LifecycleTool)
    key, entry_model, attr = _LIST_ENTRIES[name]
    raw = data.get(key) if isinstance(data, dict) else None
    if not isinstance(raw, list):
        # No usable list: references into this file cannot be judged.
        files.names[name] = (
            [] if isinstance(data, dict) and raw is None and name not in REQUIRED_FILES else None
        )
        return
    files.names[name] = [e["name"] for e in raw if isinstance(e, dict) and isinstance(e.get("name"), str)]
    setattr(files, attr, _valid_entries(raw, entry_model))


def _valid_entries(raw: list[Any], entry_model: type[BaseModel]) -> list[tuple[int, Any]]:
    """(index, entry) of the entries that pass their own shape check."""
    entries: list[tuple[int, Any]] = []
    for index, entry in enumerate(raw):
        try:
            entries.append((index, entry_model.model_validate(entry)))
        except ValidationError:
            continue
    return entries


def _partial_orchestrator(data: Any) -> Orchestrator | None:
    """The orchestrator with its invalid settings dropped (so defaults stand in), for the cross-checks only:
    a bad max_turns should not hide an unknown initial_agent."""
    if not isinstance(data, dict):
        return None
    try:
        return Orchestrator.model_validate(data)
    except ValidationError as exc:
        bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
    kept = {k: v for k, v in data.items() if k not in bad}
    # A stand-in name: the missing or bad workflow_name is already reported.
    kept.setdefault("workflow_name", "unnamed")
    try:
        return Orchestrator.model_validate(kept)
    except ValidationError:
        return None


@dataclass
class CheckResult:
    """A workflow folder checked: the workflow (None when invalid), its errors and its warnings."""

    workflow: Workflow | None
    errors: list[WorkflowError]
    warnings: list[WorkflowError] = field(default_factory=list)


def _order(errors: list[WorkflowError]) -> list[WorkflowError]:
    order = {name: index for index, name in enumerate(FILE_MODELS)}
    return sorted(errors, key=lambda e: (order.get(e.file, len(order)), e.file, e.line or 0))


def check_workflow_report(root: Path) -> CheckResult:
    """Check the workflow in ``root``: in either dialect, every error and every warning at once."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"workflow folder not found: {root}")
    reads = {name: _read(root, name) for name in [*FILE_MODELS, UI_CONFIG]}
    parsed = {
        name: Parsed(read[0].data, read[0].lines)
        for name, read in reads.items()
        if read[0] is not None and read[0].data is not None
    }
    folder = translate_folder(root.name, parsed)
    for name, translation in folder.files.items():
        original = reads[name][0]
        assert original is not None
        reads[name] = (
            ParsedFile(data=translation.data, lines=translation.lines, errors=original.errors),
            reads[name][1],
        )
    files = Files(dialect=Dialect.original if folder.original else Dialect.mozaiks)
    errors: list[WorkflowError] = list(folder.errors)
    values: dict[str, Any] = {}
    for name, model in FILE_MODELS.items():
        values[name], file_errors = _load_file(name, model, reads[name], files)
        errors.extend(file_errors)
    if reads[UI_CONFIG][1]:
        errors.extend(reads[UI_CONFIG][1])
    errors.extend(crosscheck(files, root))
    stray_errors, warnings = _stray_files(root)
    errors.extend(stray_errors)
    warnings = [*folder.warnings, *warnings]
    renamed = {name: t.origin for name, t in folder.files.items()}
    errors = [_renamed(e, renamed) for e in errors]
    if errors:
        return CheckResult(None, _order(errors), _order(warnings))

    def entries(name: str, attr: str) -> list[Any]:
        value = values[name]
        return list(getattr(value, attr)) if value is not None else []

    workflow = Workflow(
        root=root.resolve(),
        orchestrator=values["orchestrator.yaml"],
        agents=entries("agents.yaml", "agents"),
        handoffs=entries("handoffs.yaml", "handoffs"),
        tools=entries("tools.yaml", "tools"),
        context_variables=entries("context_variables.yaml", "context_variables"),
        structured_outputs=entries("structured_outputs.yaml", "models"),
        hooks=entries("hooks.yaml", "hooks"),
        lifecycle_tools=entries("tools.yaml", "lifecycle_tools"),
        dialect=files.dialect,
        content_hash=content_hash(root),
    )
    file_errors, file_warnings = check_context_files(workflow, files.lines)
    file_errors = [_renamed(e, renamed) for e in [*file_errors, *check_references(workflow, files.lines)]]
    warnings = [*warnings, *(_renamed(w, renamed) for w in file_warnings)]
    if file_errors:
        return CheckResult(None, _order(file_errors), _order(warnings))
    # A file a context variable reads is read: not a stray file.
    read = {PurePosixPath(v.path).as_posix() for v in file_variables(workflow) if v.path}
    warnings = [w for w in warnings if w.file not in read]
    pending = [_renamed(w, renamed) for w in pending_warnings(workflow, files.lines)]
    return CheckResult(workflow, [], _order([*warnings, *pending]))


def _renamed(error: WorkflowError, renamed: dict[str, dict[str, str]]) -> WorkflowError:
    """An error found on translated data, with the field named as the author wrote it."""
    origin = renamed.get(error.file)
    if not origin or not error.field:
        return error
    return error.model_copy(update={"field": rename_field(error.field, origin)})


def check_workflow(root: Path) -> tuple[Workflow | None, list[WorkflowError]]:
    """The workflow in ``root`` and its errors: ``(workflow, [])`` if valid, ``(None, errors)`` otherwise."""
    result = check_workflow_report(root)
    return result.workflow, result.errors


def load_workflow(root: Path) -> Workflow:
    """Load and validate the workflow in ``root``; raise ``WorkflowValidationError`` with all its errors."""
    workflow, errors = check_workflow(root)
    if workflow is None:
        raise WorkflowValidationError(errors)
    return workflow

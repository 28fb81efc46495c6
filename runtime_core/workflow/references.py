"""``source: data_reference`` context variables: a read-only, tenant-scoped lookup, as far as the spec goes.

A reference reads one document of ``database_name.collection`` that matches ``query_template`` and takes
``fields`` of it. Its placeholders: ``{{runtime.app_id}}``, ``{{runtime.user_id}}``,
``{{runtime.session_id}}`` (or the original's ``{{runtime.chat_id}}``), ``{{runtime.workflow_name}}``, and
``{{name}}`` / ``{{name.key}}`` for another variable's value when the session starts. Every lookup is scoped
to the session's verified tenant: ``app_id`` is always in the filter with the session's app, and ``user_id``
is when the template names it; the template cannot name another tenant (``app_id`` / ``user_id`` keys must
be their runtime placeholder). The lookup itself runs in the worker (``runtime_core.data_references``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.spec import ContextVariable, VariableSource, Workflow

if TYPE_CHECKING:
    from runtime_core.workflow.yaml_source import LineMap

PLACEHOLDER = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$")
RUNTIME_PLACEHOLDERS = ("app_id", "user_id", "session_id", "chat_id", "workflow_name")
TENANT_KEYS = ("app_id", "user_id")


def reference_variables(workflow: Workflow) -> list[ContextVariable]:
    return [v for v in workflow.context_variables if v.source == VariableSource.data_reference]


def placeholder(value: Any) -> str | None:
    """The dotted name inside ``{{ ... }}``, or None for a literal value."""
    if not isinstance(value, str):
        return None
    match = PLACEHOLDER.match(value.strip())
    return match.group(1) if match else None


def _problems(var: ContextVariable, names: set[str]) -> list[tuple[tuple[str, ...], str]]:
    ref = var.reference
    if ref is None:
        return [((), "source data_reference needs collection (and database_name, query_template, fields)")]
    out: list[tuple[tuple[str, ...], str]] = []
    if ref.db_type.lower() != "mongodb":
        out.append((("db_type",), f"db_type {ref.db_type!r} is not supported; only mongodb"))
    if not ref.database_name:
        out.append((("database_name",), "a data_reference needs database_name, the database to read"))
    for key, value in ref.query_template.items():
        name = placeholder(value)
        if key in TENANT_KEYS and name != f"runtime.{key}":
            out.append(
                (
                    ("query_template", key),
                    f"{key} must be '{{{{runtime.{key}}}}}': a lookup never reads another tenant's data",
                )
            )
        elif name is not None and name.startswith("runtime."):
            if name.split(".", 1)[1] not in RUNTIME_PLACEHOLDERS:
                out.append(
                    (
                        ("query_template", key),
                        f"unknown placeholder {{{{{name}}}}}; the runtime's: "
                        + ", ".join(f"runtime.{p}" for p in RUNTIME_PLACEHOLDERS),
                    )
                )
        elif name is not None and name.split(".")[0] not in names:
            out.append((("query_template", key), f"placeholder {{{{{name}}}}} names no context variable"))
    return out


def check_references(workflow: Workflow, lines: dict[str, LineMap]) -> list[WorkflowError]:
    """One error per fault of a ``data_reference``, at its line."""
    # Imported here: the worker and the $default route import this module for ``placeholder`` and must not
    # load PyYAML (the parser's module) at their cold start.
    from runtime_core.workflow.yaml_source import format_path

    names = {v.name for v in workflow.context_variables}
    line_map = lines.get("context_variables.yaml")
    errors = []
    for index, var in enumerate(workflow.context_variables):
        if var.source != VariableSource.data_reference:
            continue
        for sub, message in _problems(var, names):
            at = ("context_variables", index, "reference", *sub)
            line = line_map.line_of(at) if line_map is not None else None
            errors.append(
                WorkflowError(
                    file="context_variables.yaml", line=line, field=format_path(at), message=message
                )
            )
    return errors

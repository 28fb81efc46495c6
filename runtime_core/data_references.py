"""Resolve a session's ``data_reference`` variables before its first step, through a small read port.

The engine is pure (no I/O of its own): the worker calls ``resolve_references`` on a session that has not
started yet, with the store as the ``ReferenceReader``; the values go into the session's context and are
persisted with it by the step's commit, so every later step (in any process) sees exactly the value the
session started with, as an uninterrupted run does. Each lookup is filtered by the session's verified
``app_id`` (and ``user_id`` when the template names it): see ``runtime_core.workflow.references``. What the
original runtime did with the document: ``_id`` dropped; one field asked, that field's value; none found,
the variable's ``default``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from runtime_core.session import SessionState, Tenant
from runtime_core.workflow.references import placeholder, reference_variables
from runtime_core.workflow.spec import ContextVariable, Workflow

# The engine's flag that the run has started (engine.step ``_start``): set, the context is the session's own.
STARTED_FLAG = "initialized"


class ReferenceLookup(BaseModel):
    """One read-only lookup: the first document of ``database.collection`` matching ``filter``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: str
    collection: str
    filter: dict[str, Any]
    fields: list[str]


@runtime_checkable
class ReferenceReader(Protocol):
    """What the store offers the worker: one document (or None) of the tenant's data, never a write."""

    def read_reference(self, tenant: Tenant, lookup: ReferenceLookup) -> dict[str, Any] | None: ...


def _runtime(state: SessionState) -> dict[str, str]:
    return {
        "app_id": state.app_id,
        "user_id": state.user_id,
        "session_id": state.session_id,
        "chat_id": state.session_id,
        "workflow_name": state.workflow_name,
    }


def _value(template: Any, runtime: dict[str, str], context: dict[str, Any]) -> Any:
    name = placeholder(template)
    if name is None:
        return template
    head, *rest = name.split(".")
    if head == "runtime":
        return runtime[rest[0]]
    value = context.get(head)
    for key in rest:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def lookup_for(var: ContextVariable, state: SessionState, context: dict[str, Any]) -> ReferenceLookup:
    """The lookup of ``var`` for ``state``'s tenant; ``context``: the other variables' starting values."""
    ref = var.reference
    assert ref is not None and ref.database_name  # validated (workflow.references)
    runtime = _runtime(state)
    query = {key: _value(value, runtime, context) for key, value in ref.query_template.items()}
    # Tenant scope last, so nothing above can widen it (validation already refuses other values).
    query["app_id"] = state.app_id
    if "user_id" in ref.query_template:
        query["user_id"] = state.user_id
    return ReferenceLookup(
        database=ref.database_name, collection=ref.collection, filter=query, fields=list(ref.fields)
    )


def _json_safe(value: Any) -> Any:
    # Persisted with the session's context (JSON): ObjectIds, dates and decimals become text.
    return json.loads(json.dumps(value, default=str))


def value_of(var: ContextVariable, doc: dict[str, Any] | None) -> Any:
    if doc is None:
        return var.default
    doc = {k: v for k, v in doc.items() if k != "_id"}
    ref = var.reference
    if ref is not None and len(ref.fields) == 1:
        return _json_safe(doc.get(ref.fields[0]))
    return _json_safe(doc)


def resolve_references(workflow: Workflow, state: SessionState, reader: ReferenceReader) -> dict[str, Any]:
    """Fill ``state.context_variables`` with each reference's value, once, before the run starts.

    Does nothing for a session already started (its values are persisted) or a workflow without
    references. A failing read raises: the step fails and is retried rather than starting on a default.
    """
    variables = reference_variables(workflow)
    if not variables or state.engine.get(STARTED_FLAG):
        return {}
    context = {v.name: v.default for v in workflow.context_variables}
    context.update(state.context_variables)
    resolved = {}
    for var in variables:
        lookup = lookup_for(var, state, context)
        resolved[var.name] = value_of(var, reader.read_reference(state.tenant, lookup))
    state.context_variables.update(resolved)
    return resolved


def prepare_session(workflow: Workflow, state: SessionState, store: object) -> None:
    """The worker's one call before a step: resolve the references of a session about to start."""
    if not reference_variables(workflow) or state.engine.get(STARTED_FLAG):
        return
    if not isinstance(store, ReferenceReader):
        raise TypeError(f"{workflow.name} has data_reference variables, but this store cannot read them")
    resolve_references(workflow, state, store)

"""Cross-checks of structured_outputs.yaml: field types name known types or models, enums fit their type,
and no model contains itself (the engine builds one pydantic model per entry)."""

from __future__ import annotations

import re

from runtime_core.workflow.check_report import Files, Report, duplicates, matches_type
from runtime_core.workflow.spec import OutputModel, VariableType
from runtime_core.workflow.suggestions import did_you_mean

_SCALAR_OUTPUT_TYPES = ("str", "int", "float", "bool", "dict", "list")
# Exactly the grammar the engine's model builder accepts (no spaces inside the brackets).
_LIST_TYPE = re.compile(r"^list\[([A-Za-z_][A-Za-z0-9_]*)\]$")


def check_structured_outputs(report: Report, files: Files) -> None:
    _check_fields(report, files)
    _check_output_cycles(report, files)


def _check_fields(report: Report, files: Files) -> None:
    file = "structured_outputs.yaml"
    duplicates(report, file, "models", files.models, "model")
    models = files.names.get(file) or []
    for m_index, model in files.models:
        seen: dict[str, int] = {}
        for f_index, out_field in enumerate(model.fields):
            at = ("models", m_index, "fields", f_index)
            if out_field.name in seen:
                report.add(
                    file,
                    (*at, "name"),
                    f"duplicate field name '{out_field.name}' (first at line {seen[out_field.name]})",
                )
            else:
                seen[out_field.name] = report.files.lines[file].line_of((*at, "name"))
            match = _LIST_TYPE.match(out_field.type)
            base = match.group(1) if match else out_field.type
            if (out_field.type == "union") != (out_field.variants is not None):
                report.add(file, (*at, "variants"), "variants go with type union, and union needs variants")
                continue
            if out_field.type == "union":
                for v_index, variant in enumerate(out_field.variants or []):
                    if variant not in _SCALAR_OUTPUT_TYPES and variant not in models:
                        hint = did_you_mean(variant, [*_SCALAR_OUTPUT_TYPES, *models])
                        report.add(file, (*at, "variants", v_index), f"unknown type '{variant}'{hint}")
                continue
            if base not in _SCALAR_OUTPUT_TYPES and base not in models:
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", base):
                    hint = did_you_mean(base, [*_SCALAR_OUTPUT_TYPES, *models])
                    report.add(file, (*at, "type"), f"unknown type '{base}'{hint}")
                else:
                    report.add(
                        file,
                        (*at, "type"),
                        f"invalid type '{out_field.type}': use str, int, float, bool, dict, a model name, "
                        "list[<one of those>] or union",
                    )
                continue
            if out_field.enum is not None:
                if match or base not in ("str", "int", "float"):
                    report.add(file, (*at, "enum"), "enum is only for str, int and float fields")
                elif not all(matches_type(VariableType(base), v) for v in out_field.enum):
                    report.add(file, (*at, "enum"), f"every enum value must be of type {base}")


def _model_refs(model: OutputModel, models: list[str]) -> list[tuple[int, str]]:
    """(field index, model name) for each field of ``model`` whose type names a model."""
    refs = []
    for index, out_field in enumerate(model.fields):
        match = _LIST_TYPE.match(out_field.type)
        base = match.group(1) if match else out_field.type
        for name in [base, *(out_field.variants or [])]:
            if name in models:
                refs.append((index, name))
    return refs


def _check_output_cycles(report: Report, files: Files) -> None:
    """The engine builds one pydantic model per entry and cannot build a model that contains itself."""
    file = "structured_outputs.yaml"
    names = [model.name for _, model in files.models]
    graph = {model.name: [ref for _, ref in _model_refs(model, names)] for _, model in files.models}
    reported: set[frozenset[str]] = set()
    for m_index, model in files.models:
        for f_index, ref in _model_refs(model, names):
            path = _path_between(graph, ref, model.name)
            if path is None or frozenset(path) in reported:
                continue
            reported.add(frozenset(path))
            cycle = " -> ".join([model.name, *path])
            report.add(
                file,
                ("models", m_index, "fields", f_index, "type"),
                f"model '{model.name}' contains itself ({cycle}); structured outputs cannot be recursive",
            )


def _path_between(graph: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """Models from ``start`` to ``goal`` following field references, or None when unreachable."""
    stack: list[list[str]] = [[start]]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        if path[-1] == goal:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        stack.extend([*path, nxt] for nxt in reversed(graph.get(path[-1], [])))
    return None

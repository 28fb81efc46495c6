"""Structured outputs: pydantic models built from ``structured_outputs.yaml``.

An agent with ``structured_output: Name`` gets the model as its ``response_format``; its reply is the JSON
text the model produced, which the engine validates and reports as a ``structured_output`` event.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from runtime_core.workflow.spec import OutputField, OutputModel

_SCALARS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
_LIST = re.compile(r"^list\[(?P<inner>[A-Za-z_][A-Za-z0-9_]*)\]$")


class OutputModelError(ValueError):
    pass


def build_output_models(specs: list[OutputModel]) -> dict[str, type[BaseModel]]:
    """All models, resolving references between them (in any order, no cycles)."""
    by_name = {spec.name: spec for spec in specs}
    built: dict[str, type[BaseModel]] = {}

    def build(name: str, stack: tuple[str, ...]) -> type[BaseModel]:
        if name in built:
            return built[name]
        if name in stack:
            raise OutputModelError(
                f"structured output {name!r} refers to itself through {' -> '.join(stack)}"
            )
        spec = by_name[name]
        fields: dict[str, Any] = {}
        for f in spec.fields:
            annotation = _annotation(f, lambda ref, s=(*stack, name): build(ref, s), by_name)
            if f.required:
                fields[f.name] = (annotation, Field(description=f.description or None))
            else:
                fields[f.name] = (annotation | None, Field(default=None, description=f.description or None))
        model = create_model(
            name, __config__=ConfigDict(extra="forbid"), __doc__=spec.description or None, **fields
        )
        built[name] = model
        return model

    for spec in specs:
        build(spec.name, ())
    return built


def _annotation(field: OutputField, ref: Any, known: dict[str, OutputModel]) -> Any:
    if field.enum:
        return Literal[tuple(field.enum)]
    match = _LIST.match(field.type)
    if match:
        return list[_single(match.group("inner"), ref, known, field)]
    return _single(field.type, ref, known, field)


def _single(type_name: str, ref: Any, known: dict[str, OutputModel], field: OutputField) -> Any:
    if type_name in _SCALARS:
        return _SCALARS[type_name]
    if type_name in known:
        return ref(type_name)
    raise OutputModelError(f"field {field.name!r} has unknown type {type_name!r}")

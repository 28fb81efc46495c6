"""Structured outputs: pydantic models built from ``structured_outputs.yaml``.

An agent with ``structured_output: Name`` gets the model as its ``response_format``; its reply is the JSON
text the model produced, which the engine validates and reports as a ``structured_output`` event.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from runtime_core.workflow.spec import OutputField, OutputModel

_SCALARS: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "dict": dict[str, Any],
    "list": list[Any],
}
# Field names pydantic keeps for itself (model_config, schema, json, copy...): such a field gets another
# Python name and keeps its own as the alias, so the model's JSON (what the LLM writes) is unchanged.
_RESERVED = set(dir(BaseModel))


def python_name(name: str) -> str:
    """The attribute name a structured-output field gets in the built model."""
    if name in _RESERVED or name.startswith(("model_", "_")):
        return f"field_{name.lstrip('_')}_"
    return name


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
            alias = f.name if python_name(f.name) != f.name else None
            described = {"description": f.description or None, "alias": alias}
            if f.nullable:
                annotation = annotation | None
            if f.required:
                fields[python_name(f.name)] = (annotation, Field(**described))
            else:
                default = f.default if "default" in f.model_fields_set else None
                fields[python_name(f.name)] = (annotation | None, Field(default=default, **described))
        model = create_model(
            name,
            __config__=ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True),
            __doc__=spec.description or None,
            **fields,
        )
        built[name] = model
        return model

    for spec in specs:
        build(spec.name, ())
    return built


def _annotation(field: OutputField, ref: Any, known: dict[str, OutputModel]) -> Any:
    if field.enum:
        return Literal[tuple(field.enum)]
    if field.type == "union":
        return Union[tuple(_single(v, ref, known, field) for v in field.variants or [])]  # noqa: UP007
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

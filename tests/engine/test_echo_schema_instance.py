"""The echo model's structured outputs: a value valid against any satisfiable JSON Schema, a clear error
naming the place for one it cannot satisfy. Every generated value is checked with ``jsonschema``, and the
schemas built from pydantic models (what the engine sends as ``response_format``) are validated back by the
model itself, as the engine does."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
import jsonschema
import pytest
from pydantic import BaseModel, Field

from runtime_core.engine.failures import classify
from runtime_core.llm.echo import EchoModel, EchoUnsatisfiable
from runtime_core.llm.meter import EXTENSION
from runtime_core.llm.schema_instance import SchemaUnsatisfiable, instance_for

# --- bad input first: schemas nothing (or nothing these rules build) satisfies ---

UNSATISFIABLE: list[tuple[Any, str, str]] = [
    (False, "$", "accepts nothing"),
    ({"type": "object", "properties": {"a": False}, "required": ["a"]}, "$.a", "accepts nothing"),
    ({"enum": []}, "$", "an empty enum"),
    ({"type": "integer", "enum": ["a", "b"]}, "$", "no value of the schema's type"),
    ({"type": "string", "minLength": 5, "maxLength": 2}, "$", "minLength 5 > maxLength 2"),
    ({"type": "array", "minItems": 3, "maxItems": 1}, "$", "minItems 3 > maxItems 1"),
    ({"type": "integer", "minimum": 10, "maximum": 3}, "$", "within the bounds"),
    ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, "$", "within the bounds"),
    ({"type": "integer", "multipleOf": 0.5, "minimum": 0.1, "maximum": 0.4}, "$", "within the bounds"),
    ({"type": "string", "pattern": "^[0-9]{4}$"}, "$", "pattern"),
    ({"not": {"type": "string"}}, "$", "'not'"),
    ({"$ref": "#/$defs/Missing"}, "$", "cannot resolve $ref"),
    ({"$ref": "https://example.com/schema.json"}, "$", "only local references"),
    ({"anyOf": [False, {"enum": []}]}, "$", "no anyOf branch"),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["b"],
            "additionalProperties": False,
        },
        "$",
        "'b' is required but not allowed",
    ),
    (
        {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/$defs/Node"}},
                    "required": ["next"],
                }
            },
            "$ref": "#/$defs/Node",
        },
        "$.next",
        "contains itself",
    ),
    (
        {
            "type": "object",
            "properties": {
                "deep": {"type": "array", "minItems": 1, "items": {"type": "integer", "enum": []}}
            },
            "required": ["deep"],
        },
        "$.deep[0]",
        "an empty enum",
    ),
    ({"type": "null", "const": 1}, "$", "no value of the schema's type"),
    ({"const": "a", "enum": ["b"]}, "$", "the const is not among the enum's values"),
]


@pytest.mark.parametrize(("schema", "path", "reason"), UNSATISFIABLE)
def test_a_schema_it_cannot_satisfy_is_an_error_naming_where(schema: Any, path: str, reason: str) -> None:
    with pytest.raises(SchemaUnsatisfiable) as caught:
        instance_for(schema)
    assert caught.value.path.startswith(path)
    assert reason in str(caught.value)


def _request(agent: str, schema: dict[str, Any]) -> httpx.Request:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi", "name": "user"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Plan", "schema": schema}},
    }
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions", json=body)
    request.extensions[EXTENSION] = {"agent": agent, "purpose": "structured_output", "call": 0}
    return request


def test_an_unsatisfiable_output_fails_the_call_naming_the_agent_and_the_model() -> None:
    schema = {
        "title": "Plan",
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^X$"}},
        "required": ["code"],
    }
    with pytest.raises(EchoUnsatisfiable) as caught:
        EchoModel().transport().handle_request(_request("Planner", schema))
    message = str(caught.value)
    assert "echo model" in message and "'Planner'" in message and "'Plan'" in message and "$.code" in message
    # The engine reports it as a step error carrying that message (the OpenAI client wraps it first).
    try:
        raise RuntimeError("Connection error.") from caught.value
    except RuntimeError as wrapped:
        assert classify(wrapped) == ("script_error", message)


# --- satisfiable schemas: the value validates ---

SATISFIABLE: list[tuple[str, dict[str, Any]]] = [
    ("empty", {}),
    (
        "const and enum",
        {
            "type": "object",
            "properties": {"k": {"const": "v"}, "e": {"enum": [3, "a"]}},
            "required": ["k", "e"],
        },
    ),
    ("typed enum skips other types", {"type": "string", "enum": [1, None, "b"]}),
    ("nullable first", {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 4}]}),
    ("type list", {"type": ["null", "number"], "exclusiveMinimum": 2.5}),
    ("only null", {"anyOf": [{"type": "null"}, False]}),
    (
        "oneOf of objects",
        {"oneOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]}]},
    ),
    ("integer bounds and step", {"type": "integer", "exclusiveMinimum": 7, "multipleOf": 4}),
    ("negative only", {"type": "integer", "maximum": -3, "multipleOf": 2}),
    ("number in an open interval", {"type": "number", "exclusiveMinimum": 0.1, "exclusiveMaximum": 0.2}),
    ("string lengths", {"type": "string", "minLength": 12, "maxLength": 14}),
    ("short string", {"type": "string", "maxLength": 2}),
    (
        "pattern the name meets",
        {"type": "object", "properties": {"id": {"type": "string", "pattern": "^id"}}, "required": ["id"]},
    ),
    (
        "formats",
        {
            "type": "object",
            "properties": {
                f: {"type": "string", "format": f} for f in ("date", "date-time", "email", "uri", "uuid")
            },
            "required": ["date", "date-time", "email", "uri", "uuid"],
        },
    ),
    ("array bounds", {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}),
    ("empty array allowed only", {"type": "array", "items": {"type": "string"}, "maxItems": 0}),
    ("prefix items", {"type": "array", "prefixItems": [{"const": 1}, {"type": "string"}], "minItems": 2}),
    ("unique one item", {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    ("free-form object", {"type": "object", "additionalProperties": {"type": "integer"}, "required": ["n"]}),
    (
        "allOf with a ref",
        {
            "$defs": {"B": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}},
            "allOf": [{"$ref": "#/$defs/B"}, {"properties": {"y": {"type": "integer"}}, "required": ["y"]}],
        },
    ),
    (
        "optional recursion",
        {
            "$defs": {
                "T": {
                    "type": "object",
                    "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}},
                    "required": ["kids"],
                }
            },
            "$ref": "#/$defs/T",
        },
    ),
    (
        "nullable recursion",
        {
            "$defs": {
                "L": {
                    "type": "object",
                    "properties": {"next": {"anyOf": [{"$ref": "#/$defs/L"}, {"type": "null"}]}},
                    "required": ["next"],
                }
            },
            "$ref": "#/$defs/L",
        },
    ),
    (
        "implied types",
        {
            "properties": {"n": {"minimum": 2}, "s": {"maxLength": 3}, "l": {"minItems": 1}},
            "required": ["n", "s", "l"],
        },
    ),
]


@pytest.mark.parametrize(("label", "schema"), SATISFIABLE, ids=[s[0] for s in SATISFIABLE])
def test_the_instance_validates_against_the_schema(label: str, schema: dict[str, Any]) -> None:
    value = instance_for(schema)
    jsonschema.validate(value, schema)
    assert instance_for(schema) == value  # deterministic


def test_the_first_usable_value_is_chosen() -> None:
    assert instance_for({"enum": ["low", "high"]}) == "low"
    assert instance_for({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 4}]}) == 4
    assert instance_for({"type": "integer", "exclusiveMinimum": 7, "multipleOf": 4}) == 8
    assert instance_for(
        {"type": "object", "properties": {"title": {"type": "string"}, "x": {}}, "required": ["title"]}
    ) == {"title": "title"}
    # One item where none is required; none when the item would contain itself.
    assert instance_for({"type": "array", "items": {"type": "boolean"}}) == [False]
    tree = instance_for(SATISFIABLE[-3][1])
    assert tree == {"kids": []}


class Step(BaseModel):
    kind: Literal["email", "call"]
    when: str | None
    weight: float = Field(ge=0.5, le=1.0)


class Plan(BaseModel):
    title: str = Field(min_length=3)
    steps: list[Step]
    owner: int | str
    tags: dict[str, int]
    note: str | None = None
    mode: Literal["draft"]


def test_a_pydantic_models_schema_gives_a_value_the_model_accepts() -> None:
    from openai.lib._pydantic import to_strict_json_schema

    for schema in (Plan.model_json_schema(), to_strict_json_schema(Plan)):
        value = instance_for(schema)
        jsonschema.validate(value, schema)
        plan = Plan.model_validate_json(json.dumps(value))
        assert plan.mode == "draft" and plan.steps[0].kind == "email" and plan.steps[0].weight == 0.5

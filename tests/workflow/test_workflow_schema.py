"""JSON Schema export: the committed docs/schema files are exactly what the models generate."""

from __future__ import annotations

import json
import re
import typing

import pytest
import yaml
from pydantic import BaseModel
from workflow_dirs import REPO

from runtime_core.workflow.json_schema import SCHEMA_DIALECT, export_kinds, kinds, schema_for, schema_text
from runtime_core.workflow.original.schema import ORIGINAL_MODELS
from runtime_core.workflow.spec import FILE_KINDS, FILE_MODELS

SCHEMA_DIR = REPO / "docs" / "schema"
ORIGINAL_KINDS = list(ORIGINAL_MODELS)


def test_kinds_are_the_workflow_files() -> None:
    assert kinds() == [
        "orchestrator",
        "agents",
        "handoffs",
        "tools",
        "context_variables",
        "structured_outputs",
        "hooks",
    ]
    assert export_kinds() == [*kinds(), "script", *ORIGINAL_KINDS]


@pytest.mark.parametrize("kind", export_kinds())
def test_committed_schema_matches_the_models(kind: str) -> None:
    committed = (SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8")

    assert committed == schema_text(kind), f"regenerate with: mozaiks schema --out docs/schema ({kind})"


def test_no_stray_schema_files() -> None:
    assert sorted(p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.json")) == sorted(
        f"{k}.schema.json" for k in export_kinds()
    )


@pytest.mark.parametrize("kind", kinds())
def test_schema_forbids_unknown_keys_and_lists_every_field(kind: str) -> None:
    schema = schema_for(kind)
    model = FILE_MODELS[FILE_KINDS[kind]]

    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(model.model_fields)
    for definition in schema.get("$defs", {}).values():
        if definition.get("type") == "object":
            assert definition["additionalProperties"] is False


def test_field_docs_become_descriptions() -> None:
    agent = schema_for("agents")["$defs"]["Agent"]["properties"]

    assert agent["name"]["description"] == "Unique agent name; handoffs and tools refer to it."
    assert json.loads(schema_text("agents")) == schema_for("agents")


def test_unknown_kind_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        schema_for("nope")


DOC = (REPO / "docs" / "yaml-schema.md").read_text(encoding="utf-8")
_EXAMPLE = re.compile(
    r"```yaml\n# yaml-language-server: \$schema=\.\./\.\./docs/schema/(\w+)\.schema\.json\n(.*?)```", re.S
)


def _models_of(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model its fields use, depth first."""
    found = [model]
    for info in model.model_fields.values():
        for inner in _inner_types(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                found.extend(m for m in _models_of(inner) if m not in found)
    return found


def _inner_types(tp: object) -> list[object]:
    args = typing.get_args(tp)
    return [tp, *(t for a in args for t in _inner_types(a))]


@pytest.mark.parametrize("kind", kinds())
def test_reference_documents_every_field(kind: str) -> None:
    for model in _models_of(FILE_MODELS[FILE_KINDS[kind]]):
        for name in model.model_fields:
            assert f"| `{name}` |" in DOC or f"`{name}`:" in DOC, f"{model.__name__}.{name} undocumented"


def test_reference_examples_are_valid_files() -> None:
    # The editor-support snippet shows only the schema line; every other example is a whole file.
    examples = [(kind, text) for kind, text in _EXAMPLE.findall(DOC) if text.strip()]

    assert sorted({kind for kind, _ in examples}) == sorted(kinds())
    for kind, text in examples:
        FILE_MODELS[FILE_KINDS[kind]].model_validate(yaml.safe_load(text))

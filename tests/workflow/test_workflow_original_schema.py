"""The exported JSON Schemas of the original dialect accept its test workflows and refuse what it refuses."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from workflow_dirs import HERE, REPO

from runtime_core.workflow.original.schema import ORIGINAL_MODELS

ORIGINAL = HERE / "original"
SCHEMA_DIR = REPO / "docs" / "schema"
FILES = sorted(
    (folder.name, kind, file)
    for folder in ORIGINAL.iterdir()
    if folder.is_dir()
    for kind, (file, _) in ORIGINAL_MODELS.items()
    if (folder / file).is_file()
)


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_every_original_file_kind_is_exercised() -> None:
    assert {kind for _, kind, _ in FILES} == set(ORIGINAL_MODELS)


@pytest.mark.parametrize(("folder", "kind", "file"), FILES, ids=[f"{f}-{k}" for f, k, _ in FILES])
def test_original_test_workflows_follow_the_schema(folder: str, kind: str, file: str) -> None:
    data = yaml.safe_load((ORIGINAL / folder / file).read_text(encoding="utf-8"))

    errors = [e.message for e in _validator(kind).iter_errors(data)]

    assert errors == []


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("original/orchestrator", {"orchestration_pattern": "ManualPattern"}),
        ("original/handoffs", {"handoff_rules": [{"source_agent": "A", "target_agnt": "B"}]}),
        ("original/tools", {"tools": [{"agent": "A", "file": "x.py", "function": "f", "tool_type": "Tool"}]}),
        ("original/context_variables", {"definitions": [{"name": "x", "source": {"type": "database"}}]}),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(kind: str, data: dict) -> None:
    assert list(_validator(kind).iter_errors(data))

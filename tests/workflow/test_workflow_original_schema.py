"""The exported JSON Schemas of the original dialect accept its test workflows and refuse what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from workflow_dirs import HERE, REPO

from runtime_core.workflow.original.early_files import is_early_handoffs, is_early_variables
from runtime_core.workflow.original.early_tools import is_early_tools
from runtime_core.workflow.original.schema import ORIGINAL_MODELS

ORIGINAL = HERE / "original"
# The engine's test workflows in the original dialects (KeyDesk, PlanDesk, StackPlan ...).
ENGINE_ORIGINAL = REPO / "tests" / "engine" / "original"
SCHEMA_DIR = REPO / "docs" / "schema"
_EARLY = {
    "tools.yaml": ("original/early_tools", is_early_tools),
    "handoffs.yaml": ("original/early_handoffs", is_early_handoffs),
    "context_variables.yaml": ("original/early_context_variables", is_early_variables),
}


def _kind(path: Path, kind: str, file: str) -> bool:
    """Whether ``path`` (a workflow file) is written in the dialect whose schema is ``kind``."""
    if file not in _EARLY:
        return True
    early = _EARLY[file][1](yaml.safe_load(path.read_text(encoding="utf-8")))
    return (kind == _EARLY[file][0]) == early


FILES = sorted(
    (folder.relative_to(REPO / "tests").as_posix(), kind, file)
    for folder in [*ORIGINAL.iterdir(), *ENGINE_ORIGINAL.iterdir()]
    if folder.is_dir()
    for kind, (file, _) in ORIGINAL_MODELS.items()
    if (folder / file).is_file() and _kind(folder / file, kind, file)
)


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_every_original_file_kind_is_exercised() -> None:
    assert {kind for _, kind, _ in FILES} == set(ORIGINAL_MODELS)


@pytest.mark.parametrize(("folder", "kind", "file"), FILES, ids=[f"{f}-{k}" for f, k, _ in FILES])
def test_original_test_workflows_follow_the_schema(folder: str, kind: str, file: str) -> None:
    data = yaml.safe_load((REPO / "tests" / folder / file).read_text(encoding="utf-8"))

    errors = [e.message for e in _validator(kind).iter_errors(data)]

    assert errors == []


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("original/orchestrator", {"orchestration_pattern": "ManualPattern"}),
        ("original/handoffs", {"handoff_rules": [{"source_agent": "A", "target_agnt": "B"}]}),
        ("original/tools", {"tools": [{"agent": "A", "file": "x.py", "function": "f", "tool_type": "Tool"}]}),
        ("original/context_variables", {"definitions": [{"name": "x", "source": {"type": "database"}}]}),
        ("original/early_tools", {"backend_tools": {"A": [{"path": "x.f", "display": "popup"}]}}),
        ("original/early_tools", {"ui_tools": {"A": [{"description": "no path"}]}}),
        (
            "original/early_handoffs",
            {"handoffs": {"handoff_rules": [{"source_agent": "A", "handoff_type": "x"}]}},
        ),
        (
            "original/early_context_variables",
            {"context_variables": {"variables": [{"name": "x", "database": {}}]}},
        ),
        ("original/agents", {"agents": {"A": {"human_input_mode": "SOMETIMES"}}}),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(kind: str, data: dict) -> None:
    assert list(_validator(kind).iter_errors(data))

"""Every example under workflows/ validates (new examples are picked up by the glob)."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_dirs import REPO

from runtime_core.workflow import load_workflow
from runtime_core.workflow.spec import FILE_MODELS

EXAMPLES = sorted(p.parent for p in (REPO / "workflows").glob("*/orchestrator.yaml"))


def test_there_is_at_least_the_seed_example() -> None:
    assert "CustomerSupport" in [p.name for p in EXAMPLES]


@pytest.mark.parametrize("root", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates(root: Path) -> None:
    workflow = load_workflow(root)

    assert workflow.name
    assert workflow.agents


@pytest.mark.parametrize("root", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_files_point_editors_at_their_schema(root: Path) -> None:
    for name in FILE_MODELS:
        path = root / name
        if path.exists():
            kind = name.removesuffix(".yaml")
            first = path.read_text(encoding="utf-8").splitlines()[0]
            assert first == f"# yaml-language-server: $schema=../../docs/schema/{kind}.schema.json", path

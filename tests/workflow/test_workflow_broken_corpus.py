"""Every case under broken/ reports exactly its expected errors: file, line, field and message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from workflow_dirs import BROKEN, build_workflow

from runtime_core.workflow.errors import WorkflowValidationError
from runtime_core.workflow.loader import check_workflow, load_workflow

CASES = sorted(p.parent for p in BROKEN.glob("*/expected.yaml"))


def _case_files(case: Path) -> dict[str, str]:
    return {
        p.relative_to(case).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(case.rglob("*"))
        if p.is_file() and p.name != "expected.yaml"
    }


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_case(case: Path, tmp_path: Path) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))
    root = build_workflow(tmp_path / case.name, _case_files(case), tuple(expected.get("delete", ())))

    workflow, errors = check_workflow(root)

    assert workflow is None
    got = [{"file": e.file, "line": e.line, "field": e.field, "message": e.message} for e in errors]
    assert got == expected["errors"]


@pytest.mark.parametrize("case", CASES[:3], ids=[c.name for c in CASES[:3]])
def test_load_workflow_raises_with_the_same_errors(case: Path, tmp_path: Path) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))
    root = build_workflow(tmp_path / case.name, _case_files(case), tuple(expected.get("delete", ())))

    with pytest.raises(WorkflowValidationError) as info:
        load_workflow(root)

    assert [e.message for e in info.value.errors] == [e["message"] for e in expected["errors"]]

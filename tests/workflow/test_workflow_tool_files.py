"""Tool files as published MozaiksAI workflows write them, and hostile ones: validated without importing."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_dirs import build_workflow

from runtime_core.workflow.loader import check_workflow

POSTPONED = '''from __future__ import annotations

from typing import Any


def lookup(query: str, context_variables: Any = None) -> dict[str, Any]:
    """Look something up."""
    return {"query": query}


def pick_date(title: str) -> dict:
    return {"title": title}
'''


def test_a_tool_file_with_postponed_annotations_validates(tmp_path: Path) -> None:
    root = build_workflow(tmp_path / "wf", {"tools/lookup.py": POSTPONED})

    workflow, errors = check_workflow(root)

    assert errors == []
    assert workflow is not None and [t.name for t in workflow.tools] == ["lookup", "pick_date"]


# Each makes CPython's parser give up: RecursionError (deep binary operators, call chains) or MemoryError
# (deep unary operators). Generated, not committed: the files are hundreds of kilobytes.
DEEP = {
    "binary": "x = " + "1+" * 100_000 + "1\n",
    "calls": "x = f" + "()" * 100_000 + "\n",
    "unary": "x = " + "-" * 100_000 + "1\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deeply_nested_python_is_a_clear_error_naming_the_file(tmp_path: Path, kind: str) -> None:
    root = build_workflow(tmp_path / "wf", {"tools/lookup.py": DEEP[kind]})

    workflow, errors = check_workflow(root)

    assert workflow is None
    assert [(e.file, e.line, e.message) for e in errors] == [
        (
            "tools/lookup.py",
            1,
            "tool file 'tools/lookup.py' is nested too deeply for Python's parser; simplify the code",
        )
    ]


def test_a_huge_tool_file_is_refused_without_being_read(tmp_path: Path) -> None:
    root = build_workflow(tmp_path / "wf")
    with (root / "tools" / "lookup.py").open("r+b") as handle:
        handle.truncate(200_000_000)  # sparse: 200 MB on paper, nothing written

    workflow, errors = check_workflow(root)

    assert workflow is None
    # Both tools of the base workflow live in that file.
    assert [(e.file, e.message) for e in errors] == [
        ("tools.yaml", "tool file 'tools/lookup.py' is larger than 1 MB"),
    ] * 2

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


# Tools of the original MozaiksAI runtime share modules through ``workflows/_shared`` (beside the workflow
# folders) and import them as ``workflows._shared.<module>``: validate checks they are there.
SHARED_USER = '''from __future__ import annotations

from typing import Any

{imports}


def lookup(query: str, context_variables: Any = None) -> dict[str, Any]:
    """Look something up."""
    return {{"query": query}}


def pick_date(title: str) -> dict:
    return {{"title": title}}
'''


def _with_imports(tmp_path: Path, imports: str, shared: dict[str, str] | None = None) -> Path:
    root = build_workflow(
        tmp_path / "workflows" / "Desk", {"tools/lookup.py": SHARED_USER.format(imports=imports)}
    )
    for name, text in (shared or {}).items():
        path = tmp_path / "workflows" / "_shared" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "imports",
    [
        "from workflows._shared.formatting import stage_line",
        "import workflows._shared.formatting",
        "from workflows._shared import formatting",
        "from workflows._shared.text.slugs import slug",
        "from workflows._shared import helper_in_init",
    ],
)
def test_a_module_of_workflows_shared_that_exists_validates(tmp_path: Path, imports: str) -> None:
    shared = {
        "__init__.py": "helper_in_init = 1\n",
        "formatting.py": "def stage_line(s):\n    return s\n",
        "text/slugs.py": "def slug(s):\n    return s\n",
    }
    root = _with_imports(tmp_path, imports, shared)

    _, errors = check_workflow(root)

    assert errors == []


@pytest.mark.parametrize(
    ("imports", "shared", "says"),
    [
        (
            "from workflows._shared.formatting import stage_line",
            None,
            "imports workflows._shared.formatting, but there is no _shared folder beside the workflow's",
        ),
        (
            "import workflows._shared.formating",
            {"formatting.py": ""},
            "imports workflows._shared.formating, but _shared has no module formating",
        ),
        (
            "import workflows._shared.formating",
            {"formatting.py": "", "__init__.py": "formating = 1\n"},
            "imports workflows._shared.formating, but _shared has no module formating",
        ),
        (
            "from workflows._shared import nothing_here",
            {"formatting.py": ""},
            "imports workflows._shared.nothing_here, but _shared has no module nothing_here",
        ),
        (
            "from workflows.Billing.tools.invoices import total",
            None,
            "imports workflows.Billing, another workflow's module",
        ),
    ],
)
def test_a_shared_import_that_cannot_be_served_is_an_error_at_its_line(
    tmp_path: Path, imports: str, shared: dict[str, str] | None, says: str
) -> None:
    root = _with_imports(tmp_path, imports, shared)

    _, errors = check_workflow(root)

    (error,) = errors
    assert (error.file, error.line) == ("tools/lookup.py", 5)
    assert says in error.message


@pytest.mark.parametrize("name", ["Desk", "Base"])  # by folder, and by workflow_name
def test_the_workflows_own_modules_are_not_another_workflows(tmp_path: Path, name: str) -> None:
    root = _with_imports(tmp_path, f"from workflows.{name}.tools import lookup as again")

    _, errors = check_workflow(root)

    assert errors == []


def test_the_shared_folder_is_not_a_workflow_a_client_can_start(tmp_path: Path) -> None:
    from runtime_core.services import Services

    _with_imports(tmp_path, "from workflows._shared.formatting import stage_line", {"formatting.py": ""})
    services = Services(workflows_dir=tmp_path / "workflows")

    assert services.workflow_names() == ["Desk"]
    assert services.workflow("Desk").name == "Base"
    with pytest.raises(KeyError):
        services.workflow("_shared")

"""``source: file`` context variables: read safely from the workflow folder, every fault named at its line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runtime_core.engine.compiler import compile_workflow
from runtime_core.workflow import load_workflow
from runtime_core.workflow.context_files import MAX_BYTES
from runtime_core.workflow.loader import check_workflow_report

ORIGINAL = Path(__file__).resolve().parent / "original"
LINE = 28  # line of layout's path in Intake's context_variables.yaml


@pytest.fixture
def intake(tmp_path: Path) -> Path:
    folder = tmp_path / "Intake"
    shutil.copytree(ORIGINAL / "Intake", folder)
    return folder


def _set_path(folder: Path, path: str, fmt: str = "json") -> None:
    cv = folder / "context_variables.yaml"
    text = cv.read_text().replace("path: data/layout.json", f"path: {path}")
    cv.write_text(text.replace("format: json", f"format: {fmt}"))


def _only_error(folder: Path) -> tuple[str, int | None, str, str]:
    result = check_workflow_report(folder)
    assert result.workflow is None
    (error,) = result.errors
    return error.file, error.line, error.field, error.message


def test_the_file_is_read_when_a_session_starts() -> None:
    workflow = load_workflow(ORIGINAL / "Intake")

    context = compile_workflow(workflow).initial_context()

    assert context["layout"] == {"columns": 2, "sections": ["hero", "pricing"]}


def test_a_file_inside_the_folder_is_not_a_stray_file(intake: Path) -> None:
    (intake / "layout.json").write_text('{"columns": 1}')
    _set_path(intake, "layout.json")

    result = check_workflow_report(intake)

    assert result.errors == []
    assert [w.file for w in result.warnings if w.file.endswith(".json")] == ["notes.json"]


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("../outside.json", "must be relative to the workflow folder, without '..'"),
        ("/etc/hostname", "must be relative to the workflow folder"),
        ("workflows/../outside.json", "must be relative to the workflow folder, without '..'"),
        ("workflows/../../outside.json", "must be relative to the workflow folder, without '..'"),
    ],
)
def test_a_path_out_of_the_folder_is_refused(intake: Path, path: str, says: str) -> None:
    (intake.parent / "outside.json").write_text("{}")
    _set_path(intake, path)

    file, line, field, message = _only_error(intake)

    assert (file, line, field) == ("context_variables.yaml", LINE, "definitions.layout.source.path")
    assert says in message


def test_a_symlink_leading_out_of_the_folder_is_refused(intake: Path) -> None:
    (intake.parent / "secret.json").write_text('{"key": 1}')
    (intake / "data" / "link.json").symlink_to(intake.parent / "secret.json")
    _set_path(intake, "data/link.json")

    assert "leads out of the workflow folder" in _only_error(intake)[3]


def _set_required(folder: Path) -> None:
    cv = folder / "context_variables.yaml"
    cv.write_text(
        cv.read_text().replace("      default: null\n  market_size", "      required: true\n  market_size")
    )


def test_a_missing_file_of_the_original_dialect_keeps_its_default_with_a_warning(intake: Path) -> None:
    # The original runtime left the default when a file source without required: true was not found.
    _set_path(intake, "data/missing.json")

    result = check_workflow_report(intake)

    assert result.errors == []
    (warning,) = [w for w in result.warnings if w.field == "definitions.layout.source.path"]
    assert (warning.file, warning.line) == ("context_variables.yaml", LINE)
    assert "'data/missing.json' not found in the workflow folder" in warning.message
    assert "'layout' keeps its default (None)" in warning.message
    assert compile_workflow(result.workflow).initial_context()["layout"] is None


def test_a_missing_required_file_is_refused(intake: Path) -> None:
    _set_path(intake, "data/missing.json")
    _set_required(intake)

    file, line, field, message = _only_error(intake)

    assert (file, line, field) == ("context_variables.yaml", LINE, "definitions.layout.source.path")
    assert "not found in the workflow folder" in message


def test_a_missing_file_of_this_runtimes_dialect_is_refused(make_workflow) -> None:
    base = (Path(__file__).parent / "base" / "context_variables.yaml").read_text()
    layout = "  - name: layout\n    type: dict\n    source: file\n    path: workflows/_pack/layout.json\n"
    root = make_workflow({"context_variables.yaml": base + layout})
    (root.parent / "_pack").mkdir()
    (root.parent / "_pack" / "layout.json").write_text('{"columns": 1}')

    result = check_workflow_report(root)

    # Relative to the workflow folder only: the workflows root is read for the original dialect alone.
    assert [(e.field, e.message) for e in result.errors] == [
        ("context_variables[2].path", "file 'workflows/_pack/layout.json' not found in the workflow folder")
    ]


def test_workflows_prefix_reads_the_workflows_root_as_the_original_did(intake: Path) -> None:
    # The original read paths from its repository root: workflows/_pack/... is the workflows root's _pack.
    (intake.parent / "_pack").mkdir()
    (intake.parent / "_pack" / "layout.json").write_text('{"columns": 4}')
    _set_path(intake, "workflows/_pack/layout.json")

    result = check_workflow_report(intake)

    assert result.errors == []
    assert not [w for w in result.warnings if w.field == "definitions.layout.source.path"]
    assert compile_workflow(result.workflow).initial_context()["layout"] == {"columns": 4}


def test_a_file_of_the_workflow_folder_wins_over_the_workflows_root(intake: Path) -> None:
    (intake.parent / "_pack").mkdir()
    (intake.parent / "_pack" / "layout.json").write_text('{"columns": 4}')
    (intake / "workflows" / "_pack").mkdir(parents=True)
    (intake / "workflows" / "_pack" / "layout.json").write_text('{"columns": 5}')
    _set_path(intake, "workflows/_pack/layout.json")

    assert compile_workflow(load_workflow(intake)).initial_context()["layout"] == {"columns": 5}


def test_missing_from_the_workflows_root_keeps_the_default_with_a_warning(intake: Path) -> None:
    _set_path(intake, "workflows/_pack/layout.json")

    result = check_workflow_report(intake)

    assert result.errors == []
    (warning,) = [w for w in result.warnings if w.field == "definitions.layout.source.path"]
    assert "not found in the workflow folder nor the workflows root" in warning.message


def test_a_symlink_of_the_workflows_root_leading_out_is_refused(intake: Path, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "layout.json").write_text('{"secret": 1}')
    (intake.parent / "_pack").symlink_to(outside, target_is_directory=True)
    _set_path(intake, "workflows/_pack/layout.json")

    file, line, field, message = _only_error(intake)

    assert (file, line, field) == ("context_variables.yaml", LINE, "definitions.layout.source.path")
    assert "leads out of the workflows root" in message


def test_only_the_workflows_prefix_reaches_the_workflows_root(intake: Path) -> None:
    # A sibling path without workflows/ is the original's repository root, which this runtime never reads.
    (intake.parent / "shared.json").write_text('{"columns": 4}')
    _set_path(intake, "shared.json")

    result = check_workflow_report(intake)

    assert result.errors == []
    assert compile_workflow(result.workflow).initial_context()["layout"] is None


def test_a_fifo_is_refused_without_blocking(intake: Path) -> None:
    os.mkfifo(intake / "data" / "pipe.json")
    _set_path(intake, "data/pipe.json")

    assert "not a regular file" in _only_error(intake)[3]


def test_a_huge_file_is_refused_from_its_size(intake: Path) -> None:
    with (intake / "data" / "huge.json").open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: refused by size, never read
    _set_path(intake, "data/huge.json")

    assert f"larger than {MAX_BYTES} bytes" in _only_error(intake)[3]


@pytest.mark.parametrize(
    ("content", "fmt", "says"),
    [
        ("{not json", "json", "is not valid json"),
        ("[1, 2]", "json", "holds a list, but the variable's type is dict"),
        ("a: [1", "yaml", "is not valid yaml"),
        ("columns: 3", "csv", "unknown format 'csv'"),
    ],
)
def test_content_that_does_not_parse_or_fit_the_type_is_refused(
    intake: Path, content: str, fmt: str, says: str
) -> None:
    (intake / "data" / "layout.json").write_text(content)
    _set_path(intake, "data/layout.json", fmt)

    assert says in _only_error(intake)[3]


def test_yaml_and_text_formats(intake: Path) -> None:
    (intake / "data" / "layout.yaml").write_text("columns: 3\n")
    _set_path(intake, "data/layout.yaml", "yaml")

    context = compile_workflow(load_workflow(intake)).initial_context()

    assert context["layout"] == {"columns": 3}


def test_two_folders_with_the_same_files_compile_to_their_own_workflows(tmp_path: Path) -> None:
    """The compiled-workflow cache is keyed by content *and* folder: a copy of a workflow under another name,
    beside a different data file, is its own workflow (a cache may make a step faster, never different)."""
    import shutil

    one, other = tmp_path / "a" / "Intake", tmp_path / "b" / "Briefing"
    shutil.copytree(ORIGINAL / "Intake", one)
    shutil.copytree(ORIGINAL / "Intake", other)
    layout = next(p for p in other.rglob("*.json") if "layout" in p.name)
    layout.write_text('{"columns": 3, "sections": ["faq"]}')
    first, second = load_workflow(one), load_workflow(other)
    assert first.content_hash == second.content_hash  # the data file is read per session, not hashed

    layout_of_first = compile_workflow(first).initial_context()["layout"]
    assert layout_of_first == {"columns": 2, "sections": ["hero", "pricing"]}
    compiled = compile_workflow(second)
    assert compiled.workflow.root == other
    assert compiled.initial_context()["layout"] == {"columns": 3, "sections": ["faq"]}

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
        ("data/missing.json", "not found in the workflow folder"),
    ],
)
def test_a_path_out_of_the_folder_or_missing_is_refused(intake: Path, path: str, says: str) -> None:
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

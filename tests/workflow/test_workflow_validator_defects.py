"""Validator defects found with the original dialect: each one as the input that showed it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_core.engine.outputs import build_output_models
from runtime_core.workflow.loader import check_workflow, check_workflow_report

MakeWorkflow = Callable[..., Path]


def _errors(root: Path) -> list[tuple[str, int | None, str, str]]:
    _, errors = check_workflow(root)
    return [(e.file, e.line, e.field, e.message) for e in errors]


def test_a_handoffs_file_linked_to_a_device_is_an_error_not_a_hang(make_workflow: MakeWorkflow) -> None:
    root = make_workflow(delete=("handoffs.yaml",))
    (root / "handoffs.yaml").symlink_to("/dev/zero")

    assert _errors(root) == [
        ("handoffs.yaml", None, "", "not a regular file (a device, FIFO or folder?)"),
    ]


def test_a_fifo_workflow_file_is_an_error_not_a_hang(make_workflow: MakeWorkflow) -> None:
    root = make_workflow(delete=("tools.yaml",))
    os.mkfifo(root / "tools.yaml")

    errors = _errors(root)

    assert ("tools.yaml", None, "", "not a regular file (a device, FIFO or folder?)") in errors


def test_a_200_mb_file_is_refused_from_its_size_without_reading_it(
    make_workflow: MakeWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_workflow()
    with (root / "context_variables.yaml").open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: no disk used
    opened: list[str] = []
    real_open = Path.open

    def spy(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    def spy_read(self: Path) -> bytes:
        opened.append(self.name)
        return real_read(self)

    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "open", spy)
    monkeypatch.setattr(Path, "read_bytes", spy_read)

    errors = _errors(root)

    assert errors == [("context_variables.yaml", 1, "", "file is larger than 1000000 characters")]
    assert "context_variables.yaml" not in opened


def test_a_file_just_over_the_limit_in_characters_is_refused(make_workflow: MakeWorkflow) -> None:
    root = make_workflow({"handoffs.yaml": "# " + "x" * 1_000_000 + "\nhandoffs: []\n"})

    assert _errors(root) == [("handoffs.yaml", 1, "", "file is larger than 1000000 characters")]


def test_auto_with_one_agent_is_accepted_when_the_user_takes_part(make_workflow: MakeWorkflow) -> None:
    orchestrator = "workflow_name: Solo\norchestration_strategy: auto\nhuman_in_the_loop: {}\n"
    agents = "agents:\n  - name: Triage\n    system_message: Help.\n"
    files = {"agents.yaml": agents, "orchestrator.yaml": orchestrator.format("true")}
    delete = ("handoffs.yaml", "tools.yaml", "structured_outputs.yaml")
    with_user = make_workflow(files, delete=delete)
    alone = make_workflow({**files, "orchestrator.yaml": orchestrator.format("false")}, delete=delete)

    assert _errors(with_user) == []
    assert _errors(alone) == [
        (
            "orchestrator.yaml",
            2,
            "orchestration_strategy",
            "strategy 'auto' needs at least 2 agents, found 1",
        ),
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [("from", "from_agent"), ("to", "to_agent"), ("source_agent", "from_agent"), ("target", "to_agent")],
)
def test_common_aliases_get_did_you_mean(make_workflow: MakeWorkflow, written: str, meant: str) -> None:
    other = "to_agent: Specialist" if meant == "from_agent" else "from_agent: Triage"
    value = "Triage" if meant == "from_agent" else "Specialist"
    root = make_workflow({"handoffs.yaml": f"handoffs:\n  - {written}: {value}\n    {other}\n"})

    errors = _errors(root)

    assert (
        "handoffs.yaml",
        2,
        f"handoffs[0].{written}",
        f"unknown field '{written}'; did you mean '{meant}'?",
    ) in (errors)


def test_an_alias_is_offered_only_where_its_field_exists(make_workflow: MakeWorkflow) -> None:
    root = make_workflow({"agents.yaml": "agents:\n  - name: Triage\n    from: x\n  - name: Specialist\n"})

    (error,) = [e for e in _errors(root) if e[2] == "agents[0].from"]

    assert error[3] == "unknown field 'from'"


def test_structured_output_fields_named_like_pydantic_attributes_work(make_workflow: MakeWorkflow) -> None:
    outputs = """\
models:
  - name: Answer
    fields:
      - name: model_config
        type: str
      - name: schema
        type: dict
      - name: json
        type: list[str]
        required: false
"""
    root = make_workflow({"structured_outputs.yaml": outputs})
    workflow, errors = check_workflow(root)
    assert errors == [] and workflow is not None

    answer = build_output_models(workflow.structured_outputs)["Answer"]
    reply = answer.model_validate_json('{"model_config": "strict", "schema": {"k": 1}, "json": ["a"]}')

    assert reply.model_dump(mode="json") == {"model_config": "strict", "schema": {"k": 1}, "json": ["a"]}
    assert answer.model_json_schema()["required"] == ["model_config", "schema"]


def test_unknown_files_are_warned_about_by_name(make_workflow: MakeWorkflow) -> None:
    root = make_workflow({"hooks.yaml": "hooks: []\n", "ui_settings.json": "{}", "README.md": "# notes\n"})

    result = check_workflow_report(root)

    assert result.workflow is not None
    assert [(w.file, w.message) for w in result.warnings] == [
        ("ui_settings.json", "not a workflow file; not read")
    ]

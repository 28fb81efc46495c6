"""Loader behaviour beyond the broken corpus: the seed's handoff, defaults, hashing, safety."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from workflow_dirs import REPO

from runtime_core.workflow import WorkflowError, WorkflowValidationError, load_workflow
from runtime_core.workflow.loader import check_workflow, content_hash, hashed_files
from runtime_core.workflow.spec import ConditionType, ToolKind

SEED = REPO / "workflows" / "CustomerSupport"


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SEED, tmp_path / "CustomerSupport"))


def test_seed_handoff_loads_when_the_target_exists(seed: Path) -> None:
    workflow = load_workflow(seed)

    first = workflow.handoffs[0]
    assert (first.from_agent, first.to_agent, first.condition) == (
        "SupportAgent",
        "EscalationAgent",
        "user_requests_human",
    )
    assert first.kind() == ConditionType.llm
    assert workflow.handoffs[1].kind() == ConditionType.after_work


def test_seed_handoff_to_a_misspelt_agent_points_at_the_handoff(seed: Path) -> None:
    agents = seed / "agents.yaml"
    agents.write_text(agents.read_text().replace("- name: EscalationAgent", "- name: EscalationAgnt"))

    with pytest.raises(WorkflowValidationError) as info:
        load_workflow(seed)

    first = info.value.errors[0]
    assert (first.file, first.line, first.field) == ("handoffs.yaml", 4, "handoffs[0].to_agent")
    assert first.message == "unknown agent 'EscalationAgent'; did you mean 'EscalationAgnt'?"
    assert str(first) == (
        "handoffs.yaml:4: handoffs[0].to_agent: "
        "unknown agent 'EscalationAgent'; did you mean 'EscalationAgnt'?"
    )
    # The second handoff error: EscalationAgent's own after_work rule.
    assert [(e.line, e.field) for e in info.value.errors] == [
        (4, "handoffs[0].to_agent"),
        (9, "handoffs[2].from_agent"),
    ]


def test_seed_handoff_to_a_removed_agent_fails(seed: Path) -> None:
    agents = seed / "agents.yaml"
    text = agents.read_text()
    agents.write_text(text[: text.index("  - name: EscalationAgent")])

    _, errors = check_workflow(seed)

    assert errors[0] == WorkflowError(
        file="handoffs.yaml", line=4, field="handoffs[0].to_agent", message="unknown agent 'EscalationAgent'"
    )


def test_defaults_of_a_minimal_workflow(tmp_path: Path) -> None:
    (tmp_path / "orchestrator.yaml").write_text("workflow_name: Minimal\n")
    (tmp_path / "agents.yaml").write_text("agents:\n  - name: Solo\n")

    workflow = load_workflow(tmp_path)

    assert workflow.initial_agent == "Solo"
    assert workflow.orchestrator.max_turns == 20
    assert workflow.orchestrator.orchestration_strategy == "handoff_based"
    assert workflow.orchestrator.startup_mode == "user_first"
    assert workflow.orchestrator.human_in_the_loop is True
    assert (workflow.handoffs, workflow.tools, workflow.context_variables, workflow.structured_outputs) == (
        [],
        [],
        [],
        [],
    )


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "handoffs:\n", "handoffs: []\n"])
def test_empty_optional_file_means_none(make_workflow: Callable[..., Path], text: str) -> None:
    root = make_workflow({"handoffs.yaml": text})

    assert load_workflow(root).handoffs == []


def test_base_workflow_uses_every_file_kind(make_workflow: Callable[..., Path]) -> None:
    workflow = load_workflow(make_workflow())

    assert workflow.initial_agent == "Triage"
    assert [t.name for t in workflow.tools_for("Triage")] == ["lookup"]
    assert [(t.name, t.kind) for t in workflow.tools_for("Specialist")] == [("pick_date", ToolKind.ui)]
    assert workflow.handoffs[1].kind() == ConditionType.context
    assert workflow.output_model("Answer").fields[1].type == "list[Step]"
    assert workflow.tool_path(workflow.tools[0]) == workflow.root / "tools" / "lookup.py"


def test_errors_of_several_files_come_in_file_order(make_workflow: Callable[..., Path]) -> None:
    root = make_workflow(
        {
            "tools.yaml": "tools:\n  - name: lookup\n    file: tools/lookup.py\n    function: nope\n",
            "orchestrator.yaml": "workflow_name: Base\nmax_turns: -1\n",
        }
    )

    _, errors = check_workflow(root)

    assert [(e.file, e.line, e.field) for e in errors] == [
        ("orchestrator.yaml", 2, "max_turns"),
        ("tools.yaml", 4, "tools[0].function"),
    ]


def test_yaml_tags_never_construct_python_objects(make_workflow: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    root = make_workflow(
        {
            "orchestrator.yaml": "workflow_name: Base\n"
            f'description: !!python/object/apply:os.system ["touch {marker}"]\n'
        }
    )

    _, errors = check_workflow(root)

    assert not marker.exists()
    assert (errors[0].file, errors[0].line) == ("orchestrator.yaml", 2)
    assert "is not allowed" in errors[0].message


def test_tool_code_is_never_executed(make_workflow: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    source = f"from pathlib import Path\nPath({str(marker)!r}).touch()\n\n\ndef lookup(q: str) -> str:\n"
    source += "    return q\n"
    root = make_workflow({"tools/lookup.py": source + "\n\ndef pick_date(p: str) -> str:\n    return p\n"})

    load_workflow(root)

    assert not marker.exists()


def test_tool_symlink_out_of_the_folder_is_rejected(
    make_workflow: Callable[..., Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def lookup(q):\n    return q\n")
    root = make_workflow()
    (root / "tools" / "link.py").symlink_to(outside)
    (root / "tools.yaml").write_text(
        "tools:\n  - name: lookup\n    file: tools/link.py\n    function: lookup\n"
    )

    _, errors = check_workflow(root)

    assert [(e.file, e.line, e.field) for e in errors] == [("tools.yaml", 3, "tools[0].file")]
    assert errors[0].message == "tool file 'tools/link.py' resolves outside the workflow's tools/ folder"


def test_missing_folder_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_workflow(tmp_path / "nope")


def test_not_utf8_file(make_workflow: Callable[..., Path]) -> None:
    root = make_workflow()
    (root / "handoffs.yaml").write_bytes(b"handoffs:\n  - from_agent: \xff\n")

    _, errors = check_workflow(root)

    assert [(e.file, e.line, e.field) for e in errors] == [("handoffs.yaml", None, "")]
    assert errors[0].message.startswith("not UTF-8 text")


def test_error_without_line_prints_the_file_only() -> None:
    error = WorkflowError(file="orchestrator.yaml", line=None, field="", message="required file is missing")

    assert str(error) == "orchestrator.yaml: <file>: required file is missing"


class TestContentHash:
    def test_other_files_do_not_change_it(self, make_workflow: Callable[..., Path]) -> None:
        root = make_workflow()
        before = content_hash(root)
        (root / "script.yaml").write_text("turns: []\n")
        (root / "README.md").write_text("notes\n")
        (root / "tools" / "data.json").write_text("{}\n")

        assert content_hash(root) == before
        assert [p.relative_to(root).as_posix() for p in hashed_files(root)] == [
            "agents.yaml",
            "context_variables.yaml",
            "handoffs.yaml",
            "orchestrator.yaml",
            "structured_outputs.yaml",
            "tools.yaml",
            "tools/lookup.py",
        ]

    @pytest.mark.parametrize("changed", ["agents.yaml", "tools/lookup.py", "structured_outputs.yaml"])
    def test_workflow_files_change_it(self, make_workflow: Callable[..., Path], changed: str) -> None:
        root = make_workflow()
        before = content_hash(root)
        with (root / changed).open("a") as handle:
            handle.write("\n# edited\n")

        assert content_hash(root) != before

    def test_new_tool_file_changes_it(self, make_workflow: Callable[..., Path]) -> None:
        root = make_workflow()
        before = content_hash(root)
        (root / "tools" / "extra.py").write_text("def extra() -> None:\n    pass\n")

        assert content_hash(root) != before

    def test_same_content_same_hash(self, make_workflow: Callable[..., Path]) -> None:
        assert content_hash(make_workflow()) == content_hash(make_workflow())

    def test_loaded_workflow_carries_it(self, make_workflow: Callable[..., Path]) -> None:
        root = make_workflow()
        assert load_workflow(root).content_hash == content_hash(root)

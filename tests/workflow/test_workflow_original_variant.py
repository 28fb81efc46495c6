"""A variant of the original dialect (the published SubscriptionAdvisor's shape), loaded as the original did.

The original runtime kept orchestrator.yaml's ``metadata`` / ``triggers`` / ``inputs`` / ``outputs`` and
tool ``constraints`` without reading them, wired no handoff from a ``handoffs:`` list of from / to / trigger
and set no variable from a ``context_variables:`` mapping; it refused an unknown pattern such as
``Pipeline`` when a run started. Here each of these is a warning at its line (or that error), and the spec
holds what the original ran. Digest (``original/Digest``) has every key; the engine test
tests/engine/test_engine_original_variant.py runs it.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from workflow_dirs import HERE

from runtime_core.workflow.loader import check_workflow_report
from runtime_core.workflow.spec import OrchestrationStrategy

DIGEST = HERE / "original" / "Digest"


def _digest(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "Digest"
    shutil.copytree(DIGEST, root)
    for file, text in files.items():
        (root / file).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _warnings(root: Path) -> list[tuple[str, int | None, str, str]]:
    result = check_workflow_report(root)
    assert result.errors == []
    return [(w.file, w.line, w.field, w.message) for w in result.warnings]


def test_digest_loads_with_a_warning_at_every_key_the_original_ignored() -> None:
    found = {(file, line, field): message for file, line, field, message in _warnings(DIGEST)}

    assert sorted(found) == [
        ("context_variables.yaml", 2, "context_variables.week"),
        ("context_variables.yaml", 6, "context_variables.totals"),
        ("context_variables.yaml", 10, "context_variables.tone"),
        ("handoffs.yaml", 2, "handoffs[0]"),
        ("handoffs.yaml", 8, "handoffs[1]"),
        ("orchestrator.yaml", 13, "metadata"),
        ("orchestrator.yaml", 16, "triggers"),
        ("orchestrator.yaml", 21, "inputs"),
        ("orchestrator.yaml", 25, "outputs"),
        ("tools.yaml", 8, "tools[0].constraints"),
    ]
    assert found[("orchestrator.yaml", 16, "triggers")].startswith("ignored, as in the original runtime")
    assert "no run is started from it" in found[("orchestrator.yaml", 16, "triggers")]
    assert found[("handoffs.yaml", 2, "handoffs[0]")].startswith("handoff Tallier -> Writer: not wired")
    assert "read only handoff_rules" in found[("handoffs.yaml", 8, "handoffs[1]")]
    assert "variable 'tone' is not set" in found[("context_variables.yaml", 10, "context_variables.tone")]
    assert "nothing enforces 'constraints'" in found[("tools.yaml", 8, "tools[0].constraints")]


def test_digest_spec_holds_what_the_original_ran() -> None:
    wf = check_workflow_report(DIGEST).workflow
    assert wf is not None

    assert wf.orchestrator.workflow_name == "Digest"
    assert wf.orchestrator.orchestration_strategy == OrchestrationStrategy.handoff_based
    assert wf.orchestrator.initial_agent == "Tallier"
    assert [a.name for a in wf.agents] == ["Tallier", "Writer"]
    assert wf.agents[0].system_message.startswith("[ROLE]\nYou add up the week's orders")
    assert wf.handoffs == []
    assert wf.context_variables == []
    (tool,) = wf.tools
    assert (tool.name, tool.file, tool.agents) == ("tally_orders", "tools/tally.py", ["Tallier"])
    assert not hasattr(tool, "constraints")


def test_an_unknown_pattern_is_an_error_the_original_did_not_run_either(tmp_path: Path) -> None:
    orchestrator = (DIGEST / "orchestrator.yaml").read_text().replace("DefaultPattern", "Pipeline")
    root = _digest(tmp_path, {"orchestrator.yaml": orchestrator})

    result = check_workflow_report(root)

    assert result.workflow is None
    (error,) = result.errors
    assert (error.file, error.line, error.field) == ("orchestrator.yaml", 9, "orchestration_pattern")
    assert "orchestration pattern 'Pipeline' is not supported" in error.message
    assert "the original runtime did not run it either" in error.message


def test_handoff_rules_beside_a_handoffs_list_are_not_wired_either(tmp_path: Path) -> None:
    handoffs = (DIGEST / "handoffs.yaml").read_text() + textwrap.dedent(
        """\
        handoff_rules:
          - source_agent: Tallier
            target_agent: Writer
            handoff_type: after_work
        """
    )
    root = _digest(tmp_path, {"handoffs.yaml": handoffs})

    warnings = [w for w in _warnings(root) if w[0] == "handoffs.yaml"]

    assert [(line, field) for _, line, field, _ in warnings] == [
        (2, "handoffs[0]"),
        (8, "handoffs[1]"),
        (11, "handoff_rules"),
    ]
    assert "not wired either" in warnings[2][3]
    assert check_workflow_report(root).workflow.handoffs == []


def test_definitions_beside_a_context_variables_mapping_are_not_read(tmp_path: Path) -> None:
    variables = (DIGEST / "context_variables.yaml").read_text() + textwrap.dedent(
        """\
        definitions:
          - name: region
            type: string
            source: {type: static, default: north}
        """
    )
    root = _digest(tmp_path, {"context_variables.yaml": variables})

    warnings = [w for w in _warnings(root) if w[2] == "definitions"]

    assert [(file, line) for file, line, _, _ in warnings] == [("context_variables.yaml", 14)]
    assert "read only that mapping" in warnings[0][3]
    assert check_workflow_report(root).workflow.context_variables == []


def test_the_variant_shapes_stay_errors_in_this_runtimes_dialect(make_workflow) -> None:
    # Without any file of the original dialect beside them, a from / to list and a variables mapping are
    # mistakes in this runtime's own files, not a dialect to read.
    root = make_workflow(
        {
            "handoffs.yaml": "handoffs:\n  - from: Triage\n    to: Specialist\n    trigger: NEXT\n",
            "context_variables.yaml": "context_variables:\n  attempts: {type: int, default: 0}\n",
        }
    )

    result = check_workflow_report(root)

    assert result.workflow is None
    fields = {(e.file, e.field) for e in result.errors}
    assert ("handoffs.yaml", "handoffs[0].from") in fields
    assert ("context_variables.yaml", "context_variables") in fields
    assert not [w for w in result.warnings if "as in the original runtime" in w.message]


def test_an_early_variables_block_is_not_taken_for_the_mapping(tmp_path: Path) -> None:
    # context_variables: {variables: [...]} is the early dialect's (read by early_files), not a variable
    # named "variables".
    root = _digest(
        tmp_path,
        {
            "context_variables.yaml": (
                "context_variables:\n  variables:\n    - name: week\n      default_value: w1\n"
            )
        },
    )

    wf = check_workflow_report(root).workflow

    assert wf is not None
    assert [(v.name, v.default) for v in wf.context_variables] == [("week", "w1")]

"""The early original dialect (tools.yaml ``backend_tools`` / ``ui_tools``): what the loader makes of it, and
its faults at the file, line and field as written.

The workflow is the engine's StackPlan test workflow (tests/engine/original/StackPlan), copied and edited.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from workflow_dirs import REPO

from runtime_core.workflow.loader import check_workflow_report
from runtime_core.workflow.spec import ConditionType, Evaluation

STACKPLAN = REPO / "tests" / "engine" / "original" / "StackPlan"


def _copy(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "StackPlan"
    shutil.copytree(STACKPLAN, root)
    for file, text in files.items():
        (root / file).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def _report(
    root: Path,
) -> tuple[list[tuple[str, int | None, str, str]], list[tuple[str, int | None, str, str]]]:
    result = check_workflow_report(root)
    errors = [(e.file, e.line, e.field, e.message) for e in result.errors]
    warnings = [(w.file, w.line, w.field, w.message) for w in result.warnings]
    return errors, warnings


def test_a_path_outside_the_workflow_and_a_missing_path_are_errors_at_their_lines(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "tools.yaml": """
            backend_tools:
              ALL_AGENTS:
                - path: workflows.Generator.tools.notes.note
                - description: no path here
                - path: notes.note
              Keeper:
                - path: workflows.StackPlan.tools.vault.keep_reference
                  trigger: on_demand
              Kepeer:
                - workflows.StackPlan.tools.notes.note
            """
        },
    )

    errors, warnings = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("tools.yaml", 3, "backend_tools.ALL_AGENTS[0].path"),
        ("tools.yaml", 4, "backend_tools.ALL_AGENTS[1].path"),
        ("tools.yaml", 5, "backend_tools.ALL_AGENTS[2].path"),
    ]
    assert "names the workflow 'Generator'" in errors[0][3] and "workflows.<StackPlan>.tools" in errors[0][3]
    assert "needs its path" in errors[1][3]
    assert "must name a function of this workflow's tools folder" in errors[2][3]
    assert ("tools.yaml", 8, "backend_tools.Keeper[0].trigger") in [w[:3] for w in warnings]
    unknown = [w for w in warnings if w[2] == "backend_tools.Kepeer"]
    assert len(unknown) == 1 and "did you mean 'Keeper'" in unknown[0][3] and unknown[0][1] == 9


def test_a_missing_tool_file_or_function_is_reported_at_its_path(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "tools.yaml": """
            backend_tools:
              Scout:
                - path: workflows.StackPlan.tools.nowhere.note
              Keeper:
                - path: workflows.StackPlan.tools.notes.nothing
            """
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("tools.yaml", 3, "backend_tools.Scout[0].path"),
        ("tools.yaml", 5, "backend_tools.Keeper[0].path"),
    ]
    assert "tools/nowhere.py' does not exist" in errors[0][3]
    assert "nothing" in errors[1][3]


def test_one_function_from_two_files_is_an_error_and_under_two_keys_is_one_tool(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "tools.yaml": """
            backend_tools:
              Scout:
                - path: workflows.StackPlan.tools.notes.note
              Keeper:
                - path: workflows.StackPlan.tools.notes.note
              Packager:
                - path: workflows.StackPlan.tools.vault.note
            """
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("tools.yaml", 7, "backend_tools.Packager[0].path")
    ]
    assert "already defined from tools/notes.py" in errors[0][3]
    fixed = _copy(
        tmp_path / "ok",
        {
            "tools.yaml": "backend_tools:\n  Scout: [workflows.StackPlan.tools.notes.note]\n"
            "  Keeper: [workflows.StackPlan.tools.notes.note]\n"
        },
    )
    workflow = check_workflow_report(fixed).workflow
    assert workflow is not None
    assert [(t.name, t.agents) for t in workflow.tools] == [("note", ["Scout", "Keeper"])]


def test_ui_tool_defaults_and_a_bad_display(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "tools.yaml": """
            ui_tools:
              Keeper:
                - path: workflows.StackPlan.tools.vault.ask_token
              Packager:
                - path: workflows.StackPlan.tools.kit.offer_kit
                  tool_id: kit_panel
                  display: popup
            """
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("tools.yaml", 7, "ui_tools.Packager[0].display")
    ]
    root = _copy(
        tmp_path / "ok",
        {"tools.yaml": "ui_tools:\n  Keeper:\n    - path: workflows.StackPlan.tools.vault.ask_token\n"},
    )
    workflow = check_workflow_report(root).workflow
    assert workflow is not None
    [tool] = workflow.tools
    assert (tool.ui.component, tool.ui.mode, tool.agents) == ("ask_token", "inline", ["Keeper"])


def test_early_agents_orchestrator_and_handoffs_faults(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "agents.yaml": """
            agents:
              Scout:
                system_message: Scout.
                human_input_mode: SOMETIMES
              Keeper:
                system_message: Keeper.
                human_input_mode: ALWAYS
                llm_config_type: KeeperFlow
              Packager:
                system_message: Packager.
            """,
            "orchestrator.yaml": """
            workflow_name: StackPlan
            orchestration_pattern: DefaultPattern
            recipient: Scout
            initial_agent: Keeper
            """,
            "handoffs.yaml": """
            handoffs:
              handoff_rules:
                - source_agent: Scout
                  target_agent: Keepr
                  handoff_type: after_work
            """,
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("orchestrator.yaml", 3, "recipient"),
        ("agents.yaml", 4, "agents.Scout.human_input_mode"),
        ("handoffs.yaml", 4, "handoffs.handoff_rules[0].target_agent"),
    ]
    assert "did you mean 'Keeper'" in errors[2][3]


def test_a_misspelt_rules_key_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "handoffs.yaml": """
            handoffs:
              handof_rules:
                - source_agent: Scout
                  target_agent: Keeper
            rules: []
            """
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("handoffs.yaml", 2, "handoffs.handof_rules"),
        ("handoffs.yaml", 5, "rules"),
    ]
    assert "did you mean 'handoff_rules'" in errors[0][3]


def test_variable_faults_name_the_written_fields(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "context_variables.yaml": """
            context_variables:
              variables:
                - name: concept
                  default: x
                - name: 9lives
                  database:
                    colection: concepts
            """
        },
    )

    errors, _ = _report(root)

    assert [(f, line, field) for f, line, field, _ in errors] == [
        ("context_variables.yaml", 4, "context_variables.variables[0].default"),
        ("context_variables.yaml", 5, "context_variables.variables[1].name"),
        ("context_variables.yaml", 6, "context_variables.variables[1].database"),
    ]
    assert "did you mean 'default_value'" in errors[0][3]


def test_early_agents_handoffs_and_variables_mean_what_they_meant(tmp_path: Path) -> None:
    root = _copy(
        tmp_path,
        {
            "agents.yaml": """
            agents:
              Scout:
                system_message: Scout.
                llm_config_type: ScoutFlow
              Keeper:
                system_message: Keeper.
                human_input_mode: TERMINATE
                llm_config_type: MissingFlow
              Packager:
                system_message: Packager.
                llm_config_type: base
            """,
            "structured_outputs.yaml": """
            structured_outputs:
              models:
                Finding:
                  type: model
                  fields:
                    need: {type: str}
              registry:
                ScoutFlow: Finding
                Packager: Finding
            """,
            "handoffs.yaml": """
            handoffs:
              handoff_rules:
                - source_agent: Scout
                  target_agent: Packager
                  handoff_type: condition
                  condition: "When ${token_status} is set"
                  priority: 2
                  transition_target: AgentTarget
                - source_agent: Scout
                  target_agent: Keeper
                  handoff_type: condition
                  condition: When a token is needed
                  priority: 1
                - source_agent: Keeper
                  target_agent: Packager
                  handoff_type: context_condition
                  context_expression: ${token_status} == "success"
                - source_agent: Packager
                  target_agent: terminate
                  handoff_type: after_work
                  transition_target: AgentTarget
            """,
            "context_variables.yaml": """
            context_variables:
              variables:
                - name: concept
                  description: The concept
                  default_value: none yet
                  database:
                    collection: concepts
                    query: {type: overview}
                - name: retries
                  default_value: 3
                - name: token_status
            """,
        },
    )

    result = check_workflow_report(root)

    assert result.errors == []
    wf = result.workflow
    assert wf is not None
    # llm_config_type names a registry flow; base and an agent-named registry key do not count.
    assert [(a.name, a.structured_output) for a in wf.agents] == [
        ("Scout", "Finding"),
        ("Keeper", None),
        ("Packager", None),
    ]
    assert [a.max_consecutive_auto_reply for a in wf.agents] == [2, 2, 2]
    rules = [(h.from_agent, h.to_agent, h.condition_type, h.evaluate) for h in wf.handoffs]
    assert rules == [
        ("Scout", "Keeper", ConditionType.llm, None),  # priority 1 before 2
        ("Scout", "Packager", ConditionType.llm, None),  # ${ } in a condition: still the model's judgment
        ("Keeper", "Packager", ConditionType.context, Evaluation.before_reply),
        ("Packager", "terminate", ConditionType.after_work, None),  # transition_target not read
    ]
    concept, retries, token_status = wf.context_variables
    assert (token_status.default, token_status.type) == ("", "str")
    assert (concept.source, concept.default, concept.description) == (
        "data_reference",
        "none yet",
        "The concept",
    )
    assert concept.reference.model_dump(
        include={"database_name", "collection", "query_template", "fields"}
    ) == {
        "database_name": "autogen_ai_agents",
        "collection": "concepts",
        "query_template": {"type": "overview"},
        "fields": ["content"],
    }
    assert (retries.type, retries.default) == ("int", 3)
    warned = {(w.file, w.line, w.field) for w in result.warnings}
    assert ("agents.yaml", 8, "agents.Keeper.llm_config_type") in warned
    # TERMINATE runs (AG2 asks the user at the reply limit or on a termination message): no warning.
    assert not {w for w in warned if w[2].endswith("human_input_mode")}


def test_a_variables_mapping_without_variables_is_not_read_as_the_early_dialect(tmp_path: Path) -> None:
    # The later variant's name -> spec mapping (the published SubscriptionAdvisor): the original loaded it and
    # set none of its variables (tests/workflow/test_workflow_original_variant.py).
    root = _copy(tmp_path, {"context_variables.yaml": "context_variables:\n  scope:\n    default: null\n"})

    errors, warnings = _report(root)

    assert errors == []
    ((line, field, message),) = [(ln, fd, m) for f, ln, fd, m in warnings if f == "context_variables.yaml"]
    assert (line, field) == (2, "context_variables.scope")
    assert "variable 'scope' is not set, as in the original runtime" in message

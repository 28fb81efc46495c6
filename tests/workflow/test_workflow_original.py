"""The original MozaiksAI dialect: loaded unchanged into the one spec, errors and warnings at their lines.

The test workflows under ``original/`` are written for these tests in that dialect: HelpDesk (runs end to end,
see tests/engine/test_engine_original.py) and Intake (every "loaded, not yet run" setting).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from workflow_dirs import HERE

from runtime_core.engine.outputs import build_output_models
from runtime_core.workflow.loader import check_workflow_report, load_workflow
from runtime_core.workflow.pending import PENDING
from runtime_core.workflow.spec import ConditionType, Evaluation, OrchestrationStrategy, StartupMode

ORIGINAL = HERE / "original"


def _copy(name: str, tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / name
    shutil.copytree(ORIGINAL / name, root)
    for file, text in (files or {}).items():
        (root / file).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _errors(root: Path) -> list[tuple[str, int | None, str, str]]:
    result = check_workflow_report(root)
    assert result.workflow is None
    return [(e.file, e.line, e.field, e.message) for e in result.errors]


def test_helpdesk_maps_every_file_into_the_spec() -> None:
    wf = load_workflow(ORIGINAL / "HelpDesk")

    assert wf.dialect == "original"
    orch = wf.orchestrator
    assert orch.workflow_name == "HelpDesk"  # from the folder
    assert orch.orchestration_strategy == OrchestrationStrategy.handoff_based
    assert orch.startup_mode == StartupMode.agent_first
    assert orch.initial_message == "Greeter, welcome the customer and ask what went wrong."
    assert orch.visible_agents == ["Greeter", "Resolver"]
    assert [a.name for a in wf.agents] == ["Greeter", "Classifier", "Resolver"]
    greeter = wf.agent("Greeter")
    assert greeter.system_message == (
        "[ROLE]\nYou greet customers of a small web shop.\n\n"
        "[RULES]\nAsk one short question about their problem."
    )
    assert greeter.max_consecutive_auto_reply == 3
    assert wf.agent("Resolver").system_message.startswith("You fix the problem")
    assert wf.agent("Classifier").structured_output == "Triage"
    assert wf.agent("Greeter").structured_output is None
    assert wf.agent("Resolver").context_variables == ["support_tier", "ticket_id", "refund_policy"]
    rules = [(h.from_agent, h.to_agent, h.kind(), h.expression) for h in wf.handoffs]
    assert rules == [
        ("Greeter", "user", ConditionType.after_work, None),
        ("user", "Classifier", ConditionType.after_work, None),
        ("user", "terminate", ConditionType.llm, None),
        ("Classifier", "Resolver", ConditionType.after_work, "${ticket_open} == True"),
        ("Classifier", "user", ConditionType.after_work, None),
        ("Resolver", "terminate", ConditionType.after_work, None),
    ]
    (tool,) = wf.tools
    assert (tool.name, tool.file, tool.agents, tool.kind, tool.ui) == (
        "open_ticket",
        "tools/tickets.py",
        ["Classifier"],
        "agent",
        None,
    )
    variables = {v.name: v for v in wf.context_variables}
    assert (
        variables["ticket_open"].type,
        variables["ticket_open"].source,
        variables["ticket_open"].default,
    ) == (
        "bool",
        "computed",
        False,
    )
    assert (variables["support_tier"].source, variables["support_tier"].env_var) == (
        "env",
        "HELPDESK_SUPPORT_TIER",
    )


def test_helpdesk_structured_output_fields_keep_their_meaning() -> None:
    wf = load_workflow(ORIGINAL / "HelpDesk")
    triage = build_output_models(wf.structured_outputs)["Triage"]

    parsed = triage.model_validate_json('{"category": "billing", "urgency": null, "schema": {"a": 1}}')

    # optional_list: absent is null (the original built Optional[list] with default None); union with
    # 'null': nullable; a field named like a pydantic attribute keeps its name in the JSON.
    assert parsed.model_dump(mode="json") == {
        "category": "billing",
        "urgency": None,
        "notes": None,
        "schema": {"a": 1},
    }
    with pytest.raises(ValueError):
        triage.model_validate_json('{"category": "shipping", "urgency": 1, "schema": {}}')
    assert set(triage.model_json_schema()["properties"]) == {"category", "urgency", "notes", "schema"}


def test_intake_reports_each_setting_not_yet_run_at_its_line() -> None:
    result = check_workflow_report(ORIGINAL / "Intake")

    assert result.errors == [] and result.workflow is not None
    got = [(w.file, w.line, w.field) for w in result.warnings]
    assert got == [
        ("orchestrator.yaml", 8, "runtime_extensions[0]"),
        ("notes.json", None, ""),
    ]
    messages = " | ".join(w.message for w in result.warnings)
    for needle in (
        "runtime extension api_router",
        "not a workflow file",
    ):
        assert needle in messages
    # Every entry of the one list of pending features fires on this workflow, but those needing a workflow
    # without the user (Intake has one: its greeting and rules from the user run; tested below).
    assert len(result.warnings) == len(PENDING) - 2 + 1  # + notes.json


def test_a_data_entity_source_is_a_notice_at_its_line_and_starts_from_its_default(tmp_path: Path) -> None:
    root = _copy("Intake", tmp_path, {})
    variables = root / "context_variables.yaml"
    variables.write_text(
        variables.read_text().replace(
            "agents:\n",
            "  orders:\n"
            "    type: object\n"
            "    source:\n"
            "      type: data_entity\n"
            "      database_name: shop\n"
            "      collection: Orders\n"
            "      search_by: order_id\n"
            "      write_strategy: immediate\n"
            "agents:\n",
        )
    )

    result = check_workflow_report(root)

    assert result.errors == [] and result.workflow is not None
    (notice,) = [w for w in result.warnings if w.field == "definitions.orders.source.type"]
    assert (notice.file, notice.line) == ("context_variables.yaml", 39)
    assert "source data_entity" in notice.message and "not provided" in notice.message
    assert next(v for v in result.workflow.context_variables if v.name == "orders").default is None


def test_a_greeting_without_the_user_is_a_warning(tmp_path: Path) -> None:
    root = _copy("Intake", tmp_path, {})
    orchestrator = root / "orchestrator.yaml"
    orchestrator.write_text(
        orchestrator.read_text().replace('human_in_the_loop: "yes"', "human_in_the_loop: no")
    )

    result = check_workflow_report(root)

    found = [(w.file, w.line, w.field, w.message) for w in result.warnings if w.file == "orchestrator.yaml"]
    assert (
        "orchestrator.yaml",
        6,
        "initial_message_to_user",
        "a greeting in a workflow without the user (human_in_the_loop: false): never shown",
    ) in found


def test_intake_maps_the_list_form_and_ui_config() -> None:
    wf = load_workflow(ORIGINAL / "Intake")

    assert wf.orchestrator.orchestration_strategy == OrchestrationStrategy.auto
    assert wf.orchestrator.human_in_the_loop is True  # "yes", read as the original runtime did
    assert wf.orchestrator.visible_agents == ["Interviewer"]  # from ui_config.yaml
    assert wf.agent("Interviewer").auto_tool_mode is True
    (rule, llm_rule) = wf.handoffs
    assert (rule.from_agent, rule.kind(), rule.evaluate) == (
        "user",
        ConditionType.context,
        Evaluation.before_reply,
    )
    assert (llm_rule.kind(), llm_rule.to_agent) == (ConditionType.llm, "terminate")
    (tool,) = wf.tools
    assert (
        tool.kind == "agent"  # a UI_Tool asks the UI from its body (use_ui_tool)
        and tool.ui is not None
        and (tool.ui.component, tool.ui.mode) == ("IntakeSummary", "artifact")
    )
    (life,) = wf.lifecycle_tools
    assert (life.trigger, life.function, life.file) == ("before_chat", "prepare", "tools/intake.py")
    (hook,) = wf.hooks
    assert (hook.type, hook.agent, hook.file, hook.function) == (
        "update_agent_state",
        "all",
        "tools/intake.py",
        "add_context",
    )
    variables = {v.name: v for v in wf.context_variables}
    assert variables["interview_done"].triggers[0].match is not None
    assert variables["interview_done"].triggers[0].match.equals == "NEXT"
    assert variables["app_concept"].reference is not None
    assert variables["app_concept"].reference.collection == "Concepts"
    assert (variables["layout"].path, variables["layout"].format, variables["layout"].type) == (
        "data/layout.json",
        "json",
        "dict",
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"orchestrator.yaml": "orchestration_pattern: ManualPattern\ninitial_agent: Greeter\n"},
            (
                "orchestrator.yaml",
                1,
                "orchestration_pattern",
                "orchestration pattern 'ManualPattern' is not supported",
            ),
        ),
        (
            {"orchestrator.yaml": "orchestration_pattern: DefaultPattern\nmax_turns: 0\n"},
            ("orchestrator.yaml", 2, "max_turns", "must be >= 1, got 0"),
        ),
        (
            {
                "handoffs.yaml": """\
                handoff_rules:
                  - source_agent: Greeter
                    target_agent: Resolvr
                    handoff_type: after_work
                    transition_target: AgentTarget
                """
            },
            (
                "handoffs.yaml",
                3,
                "handoff_rules[0].target_agent",
                "unknown agent 'Resolvr'; did you mean 'Resolver'?",
            ),
        ),
        (
            {
                "handoffs.yaml": """\
                handoff_rules:
                  - source_agent: Greeter
                    target_agent: Resolver
                    handoff_type: after_work
                    transition_target: TerminateTarget
                """
            },
            ("handoffs.yaml", 5, "handoff_rules[0].transition_target", "TerminateTarget needs target_agent"),
        ),
        (
            {
                "handoffs.yaml": """\
                handoff_rules:
                  - source_agent: Greeter
                    target_agent: Resolver
                    handoff_type: condition
                    condition: ${ticket_opn} == True
                """
            },
            ("handoffs.yaml", 5, "handoff_rules[0].condition", "unknown context variable 'ticket_opn'"),
        ),
        (
            {
                "handoffs.yaml": """\
                handoff_rules:
                  - source_agent: Greeter
                    target_agnt: Resolver
                """
            },
            ("handoffs.yaml", 3, "handoff_rules[0].target_agnt", "did you mean 'target_agent'?"),
        ),
        (
            {
                "agents.yaml": """\
                agents:
                  Greeter:
                    prompt_sections:
                      - id: role
                    max_consecutive_auto_reply: -1
                """
            },
            ("agents.yaml", 4, "agents.Greeter.prompt_sections[0].content", "a prompt section needs content"),
        ),
        (
            {
                "agents.yaml": """\
                agents:
                  Greeter:
                    prompt_sections: []
                    max_consecutive_auto_reply: -1
                  Classifier:
                    structured_outputs_required: true
                  Resolver: {}
                """
            },
            ("agents.yaml", 4, "agents.Greeter.max_consecutive_auto_reply", "must be >= 0, got -1"),
        ),
        (
            {
                "tools.yaml": """\
                tools:
                  - agent: Classifier
                    file: tickets.py
                    function: open_ticket
                    tool_type: Backend_Tool
                """
            },
            (
                "tools.yaml",
                5,
                "tools[0].tool_type",
                "unknown tool_type 'Backend_Tool'; expected UI_Tool or Agent_Tool",
            ),
        ),
        (
            {
                "context_variables.yaml": """\
                definitions:
                  - name: ticket_open
                    type: boolean
                    source:
                      type: database
                """
            },
            ("context_variables.yaml", 5, "definitions[0].source.type", "unknown source type 'database'"),
        ),
        (
            {
                "structured_outputs.yaml": """\
                structured_outputs:
                  models:
                    Triage:
                      type: model
                      fields:
                        category: {type: literal}
                  registry:
                    Classifier: Triage
                """
            },
            (
                "structured_outputs.yaml",
                6,
                "structured_outputs.models.Triage.fields.category.values",
                "needs values",
            ),
        ),
        (
            {
                "structured_outputs.yaml": """\
                structured_outputs:
                  models:
                    Triage:
                      fields:
                        category: str
                  registry:
                    Greeter: Triage
                    Classifier: Triag
                """
            },
            (
                "structured_outputs.yaml",
                8,
                "structured_outputs.registry.Classifier",
                "registry names model 'Triag', which models does not define; did you mean 'Triage'?",
            ),
        ),
    ],
    ids=[
        "unsupported_pattern",
        "bad_max_turns",
        "unknown_target",
        "transition_target_mismatch",
        "expression_unknown_variable",
        "rule_key_typo",
        "section_without_content",
        "negative_auto_reply",
        "unknown_tool_type",
        "unknown_source_type",
        "literal_without_values",
        "registry_unknown_model",
    ],
)
def test_original_dialect_errors_name_file_line_and_original_field(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, int, str, str]
) -> None:
    root = _copy("HelpDesk", tmp_path, files)

    errors = _errors(root)

    file, line, field, message = expected
    assert any(e[:3] == (file, line, field) and message in e[3] for e in errors), errors


def test_a_second_after_work_of_an_agent_wins_with_a_warning(tmp_path: Path) -> None:
    root = _copy(
        "HelpDesk",
        tmp_path,
        {
            "handoffs.yaml": """\
            handoff_rules:
              - source_agent: Greeter
                target_agent: Resolver
                handoff_type: after_work
              - source_agent: Greeter
                target_agent: user
                handoff_type: after_work
            """
        },
    )

    result = check_workflow_report(root)

    assert result.workflow is not None
    assert [(h.from_agent, h.to_agent) for h in result.workflow.handoffs] == [("Greeter", "user")]
    first = result.warnings[0]
    assert (first.file, first.line, first.field) == ("handoffs.yaml", 2, "handoff_rules[0]")
    assert "the last one wins" in result.warnings[0].message


def test_ui_config_in_a_folder_of_this_runtimes_dialect_is_a_warning(make_workflow) -> None:
    root = make_workflow({"ui_config.yaml": "visual_agents: [Triage]\n", "notes.yaml": "todo: []\n"})

    result = check_workflow_report(root)

    assert result.workflow is not None and result.workflow.dialect == "mozaiks"
    assert result.workflow.orchestrator.visible_agents is None
    assert [(w.file, w.message.split(";")[0]) for w in result.warnings] == [
        ("notes.yaml", "not a workflow file"),
        ("ui_config.yaml", "read only with files of the original dialect"),
    ]


def test_an_orchestrator_of_this_runtimes_dialect_beside_original_files_is_read_as_written(
    tmp_path: Path,
) -> None:
    root = _copy(
        "HelpDesk",
        tmp_path,
        {
            "orchestrator.yaml": """\
            workflow_name: Mixed
            orchestration_strategy: handoff_based
            startup_mode: agent_first
            initial_agent: Greeter
            """
        },
    )

    wf = load_workflow(root)

    assert wf.dialect == "original"  # agents.yaml, handoffs.yaml... are
    assert (wf.name, wf.orchestrator.max_turns, wf.orchestrator.human_in_the_loop) == ("Mixed", 20, True)


def test_names_the_original_runtime_let_pass_are_warnings(tmp_path: Path) -> None:
    # visual_agents and agents[].variables naming what does not exist had no effect in the original
    # runtime: a warning each, and the workflow still validates.
    root = _copy(
        "Intake",
        tmp_path,
        {
            "ui_config.yaml": "visual_agents: [user, Interviewer, KeyAgent]\n",
            "context_variables.yaml": """\
            definitions:
              interview_done:
                type: boolean
                source: {type: state, default: false}
            agents:
              Interviewer:
                variables: [interview_done, app_concept]
            """,
        },
    )

    result = check_workflow_report(root)

    assert result.workflow is not None
    assert result.workflow.orchestrator.visible_agents == ["Interviewer"]
    assert result.workflow.agent("Interviewer").context_variables == ["interview_done"]
    found = {(w.file, w.line, w.field, w.message) for w in result.warnings}
    assert (
        "ui_config.yaml",
        1,
        "visual_agents[2]",
        "'KeyAgent' is not an agent of agents.yaml; ignored",
    ) in found
    assert (
        "context_variables.yaml",
        7,
        "agents.Interviewer.variables[1]",
        "'app_concept' is not defined in definitions; ignored",
    ) in found


def test_hooks_and_lifecycle_tools_must_name_functions_that_exist(tmp_path: Path) -> None:
    root = _copy(
        "Intake",
        tmp_path,
        {
            "hooks.yaml": """\
            hooks:
              - hook_type: update_agent_state
                hook_agent: Interviewr
                filename: missing.py
                function: add_context
              - hook_type: process_message_before_send
                hook_agent: all
                filename: intake.py
                function: add_contxt
            """
        },
    )

    errors = _errors(root)

    assert errors == [
        ("hooks.yaml", 3, "hooks[0].hook_agent", "unknown agent 'Interviewr'; did you mean 'Interviewer'?"),
        ("hooks.yaml", 4, "hooks[0].filename", "tool file 'tools/missing.py' does not exist"),
        (
            "hooks.yaml",
            9,
            "hooks[1].function",
            "function 'add_contxt' is not defined at the top level of tools/intake.py; "
            "did you mean 'add_context'?",
        ),
    ]


def test_the_registry_gives_the_model_and_auto_tool_mode_wants_one(tmp_path: Path) -> None:
    # The original gave the registry's model to the agent whatever structured_outputs_required said, and
    # refused auto_tool_mode without one (published workflows have it: a warning here).
    agents = """\
    agents:
      Greeter:
        structured_outputs_required: false
      Classifier:
        structured_outputs_required: true
        auto_tool_mode: true
      Resolver:
        structured_outputs_required: true
    """
    outputs = """\
    structured_outputs:
      models:
        Triage: {type: model, fields: {category: str}}
      registry: {Greeter: Triage}
    """
    root = _copy("HelpDesk", tmp_path, {"agents.yaml": agents, "structured_outputs.yaml": outputs})

    result = check_workflow_report(root)

    assert result.workflow is not None
    assert result.workflow.agent("Greeter").structured_output == "Triage"
    assert result.workflow.agent("Classifier").structured_output is None
    assert result.workflow.agent("Resolver").system_message == "You are a helpful AI assistant."
    assert [(w.line, w.field, w.message) for w in result.warnings if w.file == "agents.yaml"] == [
        (
            6,
            "agents.Classifier.auto_tool_mode",
            "auto_tool_mode without a structured output model in structured_outputs.yaml's registry: the "
            "original runtime refused this agent; here it calls its tools itself",
        ),
        (
            8,
            "agents.Resolver.structured_outputs_required",
            "structured_outputs.yaml's registry names no model for this agent: its replies are free text, "
            "as in the original runtime",
        ),
    ]


def test_prompt_sections_compose_as_the_original_runtime_did(tmp_path: Path) -> None:
    agents = """\
    agents:
      Greeter:
        prompt_sections:
          output_format: {heading: '[OUTPUT]', content: '  One line.  '}
          role: {heading: '[ROLE]', content: Greet.}
          rules: {content: Ask.}
      Classifier:
        prompt_sections_custom:
          - heading: '[ONLY A HEADING]'
          - content: Plain text without a heading.
        structured_outputs_required: true
      Resolver:
        system_message: Fix it.
    """
    root = _copy("HelpDesk", tmp_path, {"agents.yaml": agents})

    result = check_workflow_report(root)

    assert result.workflow is not None
    # A mapping of named sections composes in the original's fixed order; content is stripped.
    assert result.workflow.agent("Greeter").system_message == "[ROLE]\nGreet.\n\n[OUTPUT]\nOne line."
    assert result.workflow.agent("Classifier").system_message == (
        "[ONLY A HEADING]\n\nPlain text without a heading."
    )
    assert result.workflow.agent("Resolver").system_message == "Fix it."
    (warning,) = [w for w in result.warnings if w.file == "agents.yaml"]
    assert (warning.line, warning.field) == (6, "agents.Greeter.prompt_sections.rules")
    assert "not one the original runtime composed" in warning.message


def test_auto_pattern_with_one_agent_and_no_user_runs_as_in_the_original(tmp_path: Path) -> None:
    root = _copy(
        "Intake",
        tmp_path,
        {"orchestrator.yaml": "orchestration_pattern: AutoPattern\nhuman_in_the_loop: false\nmax_turns: 3\n"},
    )

    result = check_workflow_report(root)

    assert result.workflow is not None and result.workflow.name == "Intake"
    (warning,) = [w for w in result.warnings if w.file == "orchestrator.yaml"]
    assert (warning.line, warning.field) == (1, "orchestration_pattern")
    assert warning.message.startswith("AutoPattern with one agent and no user")


def test_a_folder_name_that_cannot_name_the_workflow_asks_for_workflow_name(tmp_path: Path) -> None:
    root = tmp_path / "help-desk"
    shutil.copytree(ORIGINAL / "HelpDesk", root)

    assert _errors(root) == [
        (
            "orchestrator.yaml",
            2,  # the first line of the mapping (a comment comes first)
            "workflow_name",
            "workflow_name is not set and the folder name 'help-desk' is not a valid name (letters, digits "
            "and underscores, not starting with a digit): set workflow_name",
        )
    ]

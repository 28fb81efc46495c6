"""Checks across the files of one workflow: names are unique, references resolve, rules fit together.

Runs after every file has been shape-checked, on the entries that passed (``check_report.Files``): one bad
entry neither hides the errors of the others nor cascades into a page of "unknown agent" errors. The checks of
structured_outputs.yaml are in ``output_checks``.
"""

from __future__ import annotations

from pathlib import Path

from runtime_core.workflow.check_report import Files, Report, duplicates, matches_type
from runtime_core.workflow.context_expression import expression_problem, referenced_variables
from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.function_refs import check_function_refs
from runtime_core.workflow.output_checks import check_structured_outputs
from runtime_core.workflow.shape_errors import describe_value
from runtime_core.workflow.spec import (
    RESERVED_TARGETS,
    USER_TARGET,
    ConditionType,
    OrchestrationStrategy,
    Orchestrator,
    ToolKind,
    VariableSource,
)
from runtime_core.workflow.spec_base import Dialect
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.tool_source import ToolSource, check_tool_path, read_tool_source
from runtime_core.workflow.yaml_source import FieldPath


def _check_ref(
    report: Report, file: str, path: FieldPath, name: str, known: list[str] | None, what: str, where: str
) -> None:
    if known is None or name in known:
        return
    report.add(file, path, f"unknown {what} '{name}'{did_you_mean(name, known)}{where}")


def _check_agent_ref(
    report: Report, file: str, path: FieldPath, name: str, agents: list[str] | None, targets: bool = False
) -> None:
    if agents is None:
        return
    if not targets and name in RESERVED_TARGETS:
        report.add(file, path, f"'{name}' is a handoff target, not an agent")
        return
    known = [*agents, *RESERVED_TARGETS] if targets else agents
    _check_ref(report, file, path, name, known, "agent", "")


def _check_orchestrator(
    report: Report, orch: Orchestrator, agents: list[str] | None, dialect: Dialect = Dialect.mozaiks
) -> None:
    file = "orchestrator.yaml"
    if orch.initial_agent is not None:
        _check_agent_ref(report, file, ("initial_agent",), orch.initial_agent, agents)
    for index, name in enumerate(orch.visible_agents or []):
        _check_agent_ref(report, file, ("visible_agents", index), name, agents)
    multi = orch.orchestration_strategy != OrchestrationStrategy.handoff_based
    # auto with one agent works when the user takes part: the model picks between the agent and the user.
    # Without the user the agent speaks every turn; the original runtime ran that (a warning there).
    auto = orch.orchestration_strategy == OrchestrationStrategy.auto
    with_user = auto and (orch.human_in_the_loop or dialect == Dialect.original)
    if agents is not None and multi and len(agents) < 2 and not with_user:
        report.add(
            file,
            ("orchestration_strategy",),
            f"strategy '{orch.orchestration_strategy}' needs at least 2 agents, found {len(agents)}",
        )


def _check_agents(report: Report, files: Files) -> None:
    file = "agents.yaml"
    duplicates(report, file, "agents", files.agents, "agent")
    tools = files.names.get("tools.yaml")
    models = files.names.get("structured_outputs.yaml")
    for index, agent in files.agents:
        at = ("agents", index)
        if agent.name in RESERVED_TARGETS:
            report.add(file, (*at, "name"), f"'{agent.name}' is reserved for handoff targets")
        for t_index, tool in enumerate(agent.tools):
            _check_ref(
                report, file, (*at, "tools", t_index), tool, tools, "tool", " (define it in tools.yaml)"
            )
        if agent.structured_output is not None:
            _check_ref(
                report,
                file,
                (*at, "structured_output"),
                agent.structured_output,
                models,
                "structured output model",
                " (define it in structured_outputs.yaml)",
            )


def _check_handoffs(report: Report, files: Files, agents: list[str] | None) -> None:
    file = "handoffs.yaml"
    variables = files.names.get("context_variables.yaml")
    after_work_seen: dict[str, int] = {}
    for index, handoff in files.handoffs:
        at = ("handoffs", index)
        if handoff.from_agent != USER_TARGET:
            _check_agent_ref(report, file, (*at, "from_agent"), handoff.from_agent, agents)
        _check_agent_ref(report, file, (*at, "to_agent"), handoff.to_agent, agents, targets=True)
        if (
            handoff.condition_type is None
            and handoff.condition is not None
            and handoff.expression is not None
        ):
            report.add(
                file, at, "set either condition (an llm handoff) or expression (a context handoff), not both"
            )
            continue
        kind = handoff.kind()
        if kind == ConditionType.llm:
            if not (handoff.condition or "").strip():
                report.add(file, (*at, "condition"), "an llm handoff needs a condition")
            if handoff.expression is not None:
                report.add(file, (*at, "expression"), "expression is only for context handoffs")
            if handoff.evaluate is not None:
                # The model judges an llm condition while it replies: there is no other moment to choose.
                report.add(file, (*at, "evaluate"), "evaluate is only for context handoffs")
        elif kind == ConditionType.context:
            if handoff.condition is not None:
                report.add(file, (*at, "condition"), "condition is only for llm handoffs")
            if handoff.expression is None:
                report.add(file, (*at, "expression"), "a context handoff needs an expression")
            else:
                _check_expression(report, (*at, "expression"), handoff.expression, variables)
        elif files.dialect == Dialect.original and handoff.expression is not None:
            # A conditional after-work of the original dialect: checked when the turn is over.
            _check_expression(report, (*at, "expression"), handoff.expression, variables)
        else:
            for name in ("condition", "expression", "evaluate"):
                if getattr(handoff, name) is not None:
                    report.add(file, (*at, name), f"an after_work handoff takes no {name}")
            if handoff.from_agent in after_work_seen:
                report.add(
                    file,
                    at,
                    f"agent '{handoff.from_agent}' already has an after_work handoff "
                    f"(line {after_work_seen[handoff.from_agent]}); at most one per agent",
                )
            else:
                after_work_seen[handoff.from_agent] = report.files.lines[file].line_of(at)


def _check_expression(report: Report, path: FieldPath, expression: str, variables: list[str] | None) -> None:
    problem = expression_problem(expression)
    if problem is not None:
        report.add("handoffs.yaml", path, problem)
        return
    for name in dict.fromkeys(referenced_variables(expression)):
        _check_ref(
            report,
            "handoffs.yaml",
            path,
            name,
            variables,
            "context variable",
            " (declare it in context_variables.yaml)",
        )


def _own_names(files: Files) -> frozenset[str]:
    """Names (besides its folder's) by which ``workflows.<name>`` serves the workflow's own folder."""
    orchestrator = files.orchestrator
    return frozenset([orchestrator.workflow_name] if orchestrator is not None else [])


def _check_tools(report: Report, files: Files, agents: list[str] | None, root: Path) -> None:
    file = "tools.yaml"
    duplicates(report, file, "tools", files.tools, "tool")
    sources: dict[str, ToolSource] = {}
    described: set[tuple[str, str]] = set()
    given_by_agents = {tool for _, agent in files.agents for tool in agent.tools}
    for index, tool in files.tools:
        at = ("tools", index)
        for a_index, name in enumerate(tool.agents):
            _check_agent_ref(report, file, (*at, "agents", a_index), name, agents)
        if tool.kind == ToolKind.ui:
            if (
                not tool.agents
                and tool.name not in given_by_agents
                and files.names.get("agents.yaml") is not None
            ):
                report.add(file, (*at, "kind"), "a ui tool must be given to at least one agent")
            if files.orchestrator is not None and not files.orchestrator.human_in_the_loop:
                report.add(
                    file,
                    (*at, "kind"),
                    "a ui tool waits for the user's answer; "
                    "it needs human_in_the_loop: true in orchestrator.yaml",
                )
        path_problem = check_tool_path(tool.file)
        if path_problem is not None:
            report.add(file, (*at, "file"), path_problem)
            continue
        first_use = tool.file not in sources
        if first_use:
            sources[tool.file] = read_tool_source(root, tool.file, _own_names(files))
        source = sources[tool.file]
        for problem in source.problems:
            if problem.line is None:
                report.add(file, (*at, "file"), problem.message)
            elif first_use:
                # A problem inside a shared tool file is reported once, at its own line.
                report.add(tool.file, (), problem.message, line=problem.line)
        if source.functions is None:
            continue
        info = source.functions.get(tool.function)
        if info is not None and info.unannotated and (tool.file, tool.function) not in described:
            described.add((tool.file, tool.function))
            names = ", ".join(f"'{name}'" for name in info.unannotated)
            subject = f"parameters {names} have" if len(info.unannotated) > 1 else f"parameter {names} has"
            report.add(
                tool.file,
                (tool.function,),
                f"{subject} no type annotation; AG2 needs one on every parameter without a default "
                "to describe the tool to the model",
                line=info.line,
            )
        if info is None:
            report.add(
                file,
                (*at, "function"),
                f"function '{tool.function}' is not defined at the top level of {tool.file}"
                f"{did_you_mean(tool.function, source.functions)}",
            )


def _check_context_variables(report: Report, files: Files) -> None:
    file = "context_variables.yaml"
    duplicates(report, file, "context_variables", files.context_variables, "variable")
    for index, var in files.context_variables:
        at = ("context_variables", index)
        if var.default is not None and not matches_type(var.type, var.default):
            report.add(
                file,
                (*at, "default"),
                f"default {describe_value(var.default)} does not match type '{var.type}'",
            )
        if var.source == VariableSource.env and var.env_var is None:
            report.add(file, at, "source: env needs env_var, the name of the environment variable to read")
        if var.source == VariableSource.static and var.env_var is not None:
            report.add(file, (*at, "env_var"), "env_var is only read when source is env")


def crosscheck(files: Files, root: Path) -> list[WorkflowError]:
    """Every cross-file error of the workflow in ``root``."""
    report = Report(files)
    agents = files.names.get("agents.yaml")
    if files.orchestrator is not None:
        _check_orchestrator(report, files.orchestrator, agents, files.dialect)
    _check_agents(report, files)
    _check_handoffs(report, files, agents)
    _check_tools(report, files, agents, root)
    _check_context_variables(report, files)
    check_structured_outputs(report, files)
    report.errors.extend(check_function_refs(files.hooks, files.lifecycle_tools, agents, files.lines, root))
    return report.errors

"""The original MozaiksAI file dialect, read beside this runtime's own.

The loader parses every file, then hands the folder here: each file written in the original dialect
(``detect``) is rewritten into this runtime's shape, with its line numbers and the way back to its field
names (``mapping``), so one spec model and one set of checks serve both dialects and the engine never knows
which one a workflow was written in. Settings the runtime does not run yet are kept in the spec and reported
by ``runtime_core.workflow.pending``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.original import early_files, early_tools, orchestration, outputs, resources
from runtime_core.workflow.original.detect import is_original, is_variant
from runtime_core.workflow.original.mapping import Translation, entries, rename_field, truthy
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import LineMap, format_path

__all__ = ["UI_CONFIG", "FolderTranslation", "rename_field", "translate_folder"]

UI_CONFIG = "ui_config.yaml"


@dataclass
class Parsed:
    data: Any
    lines: LineMap


@dataclass
class FolderTranslation:
    original: bool
    # File name -> its translation (only files that were in the original dialect).
    files: dict[str, Translation] = field(default_factory=dict)
    errors: list[WorkflowError] = field(default_factory=list)
    warnings: list[WorkflowError] = field(default_factory=list)


def translate_folder(folder_name: str, parsed: dict[str, Parsed]) -> FolderTranslation:
    """Rewrite the folder's original-dialect files; ``parsed`` holds every file that parsed to data."""
    marked = {name for name, p in parsed.items() if name != UI_CONFIG and is_original(name, p.data)}
    if marked:
        marked |= {name for name, p in parsed.items() if is_variant(name, p.data)}
    result = FolderTranslation(original=bool(marked))
    if not result.original:
        if UI_CONFIG in parsed:
            result.warnings.append(
                WorkflowError(
                    file=UI_CONFIG, line=None, field="",
                    message="read only with files of the original dialect; not read (use visible_agents in "
                    "orchestrator.yaml)",
                )
            )  # fmt: skip
        return result
    exposure: dict[str, Any] = {}
    registry: dict[str, Any] = {}
    owners: list[Any] | None = None
    for name, p in parsed.items():
        if not isinstance(p.data, dict) or name == UI_CONFIG:
            continue
        if name == "orchestrator.yaml" and (name in marked or not _current_orchestrator(p.data)):
            result.files[name] = orchestration.orchestrator(p.data, p.lines, folder_name)
            early_files.orchestrator_recipient(result.files[name], p.data)
        elif name not in marked:
            continue
        elif name == "agents.yaml":
            result.files[name] = orchestration.agents(p.data, p.lines)
        elif name == "handoffs.yaml" and early_files.is_early_handoffs(p.data):
            data, lines, renames = early_files.handoffs(p.data, p.lines)
            translated = orchestration.handoffs(data, lines)
            result.files[name] = early_files.finish_handoffs(translated, renames, p.data, p.lines)
        elif name == "handoffs.yaml":
            result.files[name] = orchestration.handoffs(p.data, p.lines)
        elif name == "tools.yaml" and early_tools.is_early_tools(p.data):
            result.files[name], owners = early_tools.tools(
                p.data, p.lines, _workflow_names(folder_name, parsed)
            )
        elif name == "tools.yaml":
            result.files[name] = resources.tools(p.data, p.lines)
        elif name == "hooks.yaml":
            result.files[name] = resources.hooks(p.data, p.lines)
        elif name == "context_variables.yaml" and early_files.is_early_variables(p.data):
            result.files[name] = early_files.context_variables(p.data, p.lines)
        elif name == "context_variables.yaml":
            result.files[name], exposure = resources.context_variables(p.data, p.lines)
        elif name == "structured_outputs.yaml":
            result.files[name], registry = outputs.structured_outputs(p.data, p.lines)
    if owners is not None:
        early_tools.assign_agents(result.files["tools.yaml"], owners, _agent_names(result, parsed))
    agents_source = parsed.get("agents.yaml")
    if (
        "agents.yaml" in result.files
        and agents_source is not None
        and early_files.is_early_agents(agents_source.data)
    ):
        # The early dialect's registry is keyed by flow (an agent's llm_config_type), not by agent.
        registry = early_files.agents_fields(result.files["agents.yaml"], registry)
    _single_agent_auto(result, parsed)
    _orchestrator_visual_agents(result, parsed)
    _ui_config(result, parsed)
    _outputs_per_agent(result, parsed, registry)
    _exposure(result, exposure)
    for translation in result.files.values():
        result.errors.extend(translation.errors)
        result.warnings.extend(translation.warnings)
    return result


def _workflow_names(folder_name: str, parsed: dict[str, Parsed]) -> set[str]:
    """The names a tool path may import this workflow under: ``workflows.<folder or workflow_name>``."""
    names = {folder_name}
    source = parsed.get("orchestrator.yaml")
    if (
        source is not None
        and isinstance(source.data, dict)
        and isinstance(source.data.get("workflow_name"), str)
    ):
        names.add(source.data["workflow_name"])
    return names


def _current_orchestrator(data: dict[str, Any]) -> bool:
    """An orchestrator.yaml in this runtime's dialect beside original-dialect files: left as it is."""
    return "orchestration_strategy" in data or data.get("startup_mode") in ("user_first", "agent_first")


def _agents(result: FolderTranslation) -> dict[str, dict[str, Any]]:
    """Translated agents by name (empty when agents.yaml was not in the original dialect)."""
    data = result.files.get("agents.yaml")
    raw = data.data.get("agents") if data is not None and isinstance(data.data, dict) else None
    return {a["name"]: a for a in raw or [] if isinstance(a, dict) and isinstance(a.get("name"), str)}


def _single_agent_auto(result: FolderTranslation, parsed: dict[str, Parsed]) -> None:
    orchestrator = result.files.get("orchestrator.yaml")
    if orchestrator is None or not isinstance(orchestrator.data, dict):
        return
    data = orchestrator.data
    agents = _agent_names(result, parsed)
    alone = data.get("human_in_the_loop") is False and agents is not None and len(agents) == 1
    if data.get("orchestration_strategy") == "auto" and alone:
        orchestrator.warn(
            ("orchestration_pattern",),
            "AutoPattern with one agent and no user: the agent speaks every turn until max_turns or a "
            "termination, as in the original runtime",
        )


def _orchestrator_visual_agents(result: FolderTranslation, parsed: dict[str, Parsed]) -> None:
    orchestrator = result.files.get("orchestrator.yaml")
    source = parsed.get("orchestrator.yaml")
    if orchestrator is None or source is None or not isinstance(source.data, dict):
        return
    written = source.data.get("visual_agents")
    if isinstance(written, list) and isinstance(orchestrator.data, dict):
        kept = _known_agents(result, parsed, written, "orchestrator.yaml", source.lines)
        orchestrator.data["visible_agents"] = kept
        orchestrator.lines.lines = {
            k: v for k, v in orchestrator.lines.lines.items() if k[:1] != ("visible_agents",)
        }
        orchestrator.lines.lines[("visible_agents",)] = source.lines.line_of(("visual_agents",))


def _ui_config(result: FolderTranslation, parsed: dict[str, Parsed]) -> None:
    """ui_config.yaml held ``visual_agents`` in some versions of the original runtime."""
    ui = parsed.get(UI_CONFIG)
    if ui is None or not isinstance(ui.data, dict):
        return
    orchestrator = result.files.get("orchestrator.yaml")
    for key, value in ui.data.items():
        line = ui.lines.line_of((key,))
        if key != "visual_agents":
            result.warnings.append(
                WorkflowError(
                    file=UI_CONFIG, line=line, field=key, message="not read by this runtime; ignored"
                )
            )
            continue
        if orchestrator is None or not isinstance(orchestrator.data, dict):
            continue
        if "visible_agents" in orchestrator.data:
            result.warnings.append(
                WorkflowError(
                    file=UI_CONFIG, line=line, field=key,
                    message="orchestrator.yaml sets visual_agents too; that one is used",
                )
            )  # fmt: skip
            continue
        if isinstance(value, list):
            orchestrator.data["visible_agents"] = _known_agents(result, parsed, value, UI_CONFIG, ui.lines)
        else:
            result.errors.append(
                WorkflowError(file=UI_CONFIG, line=line, field=key, message="expected a list of agent names")
            )


def _agent_names(result: FolderTranslation, parsed: dict[str, Parsed]) -> set[str] | None:
    translated = _agents(result)
    if translated:
        return set(translated)
    source = parsed.get("agents.yaml")
    raw = source.data.get("agents") if source is not None and isinstance(source.data, dict) else None
    names = {name for _, name, _ in entries(raw) if name is not None}
    return names or None


def _known_agents(
    result: FolderTranslation, parsed: dict[str, Parsed], names: list[Any], file: str, lines: LineMap
) -> list[Any]:
    """``visual_agents`` without ``user`` (the user's messages always show) and without names that are not
    agents: the original runtime matched the list against speakers, so such a name had no effect."""
    agents = _agent_names(result, parsed)
    kept = []
    for index, name in enumerate(names):
        if name == "user":
            continue
        if agents is not None and isinstance(name, str) and name not in agents:
            result.warnings.append(
                WorkflowError(
                    file=file, line=lines.line_of(("visual_agents", index)), field=f"visual_agents[{index}]",
                    message=f"'{name}' is not an agent of agents.yaml; ignored",
                )
            )  # fmt: skip
            continue
        kept.append(name)
    return kept


def _outputs_per_agent(
    result: FolderTranslation, parsed: dict[str, Parsed], registry: dict[str, Any]
) -> None:
    """The registry's model is the agent's structured output (the original gave it as the agent's
    response_format whatever ``structured_outputs_required`` said); ``auto_tool_mode`` wants one."""
    agents = _agents(result)
    outputs_file = result.files.get("structured_outputs.yaml")
    models = (
        {m.get("name") for m in outputs_file.data.get("models") or [] if isinstance(m, dict)}
        if outputs_file is not None and isinstance(outputs_file.data, dict)
        else set()
    )
    for agent, (model, at) in registry.items():
        assert outputs_file is not None
        if agent not in agents:
            outputs_file.warn(
                at, f"registry names agent '{agent}', which agents.yaml does not define; ignored"
            )
        elif model is not None and model not in models:
            outputs_file.out_error(
                at,
                f"registry names model '{model}', which models does not define"
                f"{did_you_mean(str(model), [m for m in models if isinstance(m, str)])}",
            )
        elif model is not None:
            agents[agent]["structured_output"] = model
    source = parsed.get("agents.yaml")
    if source is None or not isinstance(source.data, dict):
        return
    for key, name, entry in entries(source.data.get("agents")):
        if not isinstance(entry, dict) or name not in agents or agents[name].get("structured_output"):
            continue
        at = ("agents", key)
        if truthy(entry.get("auto_tool_mode")) is True:
            # The original runtime refused to build such an agent; published workflows have it, and here the
            # agent simply calls its tools itself, so it is said, not refused.
            result.warnings.append(_error("agents.yaml", source.lines, (*at, "auto_tool_mode"),
                                          "auto_tool_mode without a structured output model in "
                                          "structured_outputs.yaml's registry: the original runtime refused "
                                          "this agent; here it calls its tools itself"))  # fmt: skip
        elif truthy(entry.get("structured_outputs_required")) is True:
            result.warnings.append(
                _error("agents.yaml", source.lines, (*at, "structured_outputs_required"),
                       "structured_outputs.yaml's registry names no model for this agent: its replies are "
                       "free text, as in the original runtime")
            )  # fmt: skip


def _error(file: str, lines: LineMap, at: Any, message: str) -> WorkflowError:
    return WorkflowError(file=file, line=lines.line_of(at), field=format_path(at), message=message)


def _variable_names(translation: Translation | None) -> set[str] | None:
    if translation is None or not isinstance(translation.data, dict):
        return None
    return {v["name"] for v in translation.data.get("context_variables") or [] if isinstance(v, dict)}


def _exposure(result: FolderTranslation, exposure: dict[str, Any]) -> None:
    """context_variables.yaml ``agents[].variables``: which variables each agent's prompt sees."""
    agents = _agents(result)
    variables_file = result.files.get("context_variables.yaml")
    for agent, (names, at) in exposure.items():
        if agent not in agents:
            assert variables_file is not None
            variables_file.warn(at, f"'{agent}' is not an agent of agents.yaml; its variables are ignored")
            continue
        defined = _variable_names(variables_file)
        for index, name in enumerate(names):
            if defined is not None and name not in defined and variables_file is not None:
                variables_file.warn(
                    (*at, "variables", index), f"'{name}' is not defined in definitions; ignored"
                )
        agents[agent]["context_variables"] = [n for n in names if defined is None or n in defined]
        # Where the exposure is written, for the "not yet run" warning (runtime_core.workflow.pending).
        if variables_file is not None:
            variables_file.map_from_source(("exposure", agent), at)

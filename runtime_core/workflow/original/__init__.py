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
from runtime_core.workflow.original import orchestration, outputs, resources
from runtime_core.workflow.original.detect import is_original
from runtime_core.workflow.original.mapping import Translation, entries, rename_field, truthy
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
    for name, p in parsed.items():
        if not isinstance(p.data, dict) or name == UI_CONFIG:
            continue
        if name == "orchestrator.yaml" and (name in marked or not _current_orchestrator(p.data)):
            result.files[name] = orchestration.orchestrator(p.data, p.lines, folder_name)
        elif name not in marked:
            continue
        elif name == "agents.yaml":
            result.files[name] = orchestration.agents(p.data, p.lines)
        elif name == "handoffs.yaml":
            result.files[name] = orchestration.handoffs(p.data, p.lines)
        elif name == "tools.yaml":
            result.files[name] = resources.tools(p.data, p.lines)
        elif name == "hooks.yaml":
            result.files[name] = resources.hooks(p.data, p.lines)
        elif name == "context_variables.yaml":
            result.files[name], exposure = resources.context_variables(p.data, p.lines)
        elif name == "structured_outputs.yaml":
            result.files[name], registry = outputs.structured_outputs(p.data, p.lines)
    _ui_config(result, parsed)
    _outputs_per_agent(result, parsed, registry)
    _exposure(result, exposure)
    for translation in result.files.values():
        result.errors.extend(translation.errors)
        result.warnings.extend(translation.warnings)
    return result


def _current_orchestrator(data: dict[str, Any]) -> bool:
    """An orchestrator.yaml in this runtime's dialect beside original-dialect files: left as it is."""
    return "orchestration_strategy" in data or data.get("startup_mode") in ("user_first", "agent_first")


def _agents(result: FolderTranslation) -> dict[str, dict[str, Any]]:
    """Translated agents by name (empty when agents.yaml was not in the original dialect)."""
    data = result.files.get("agents.yaml")
    raw = data.data.get("agents") if data is not None and isinstance(data.data, dict) else None
    return {a["name"]: a for a in raw or [] if isinstance(a, dict) and isinstance(a.get("name"), str)}


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
        names = [n for n in value if n != "user"] if isinstance(value, list) else value
        orchestrator.data["visible_agents"] = names
        orchestrator.lines.lines[("visible_agents",)] = line
        orchestrator.origin["visible_agents"] = f"({UI_CONFIG}) visual_agents"


def _outputs_per_agent(
    result: FolderTranslation, parsed: dict[str, Parsed], registry: dict[str, Any]
) -> None:
    """``structured_outputs_required: true`` + the registry's model = the agent's structured output."""
    agents = _agents(result)
    required: dict[str, tuple[bool, LineMap, Any]] = {}
    source = parsed.get("agents.yaml")
    if source is not None and isinstance(source.data, dict):
        for key, name, entry in entries(source.data.get("agents")):
            if isinstance(entry, dict) and name is not None:
                flag = truthy(entry.get("structured_outputs_required", False))
                required[name] = (flag is True, source.lines, ("agents", key, "structured_outputs_required"))
    for agent, (model, at) in registry.items():
        if agent not in agents:
            result.files["structured_outputs.yaml"].warn(
                at, f"registry names agent '{agent}', which agents.yaml does not define; ignored"
            )
            continue
        if model is None:
            continue
        if required.get(agent, (False,))[0]:
            agents[agent]["structured_output"] = model
    for agent, (flag, lines, at) in required.items():
        if flag and agents.get(agent, {}).get("structured_output") is None and agent in agents:
            result.errors.append(
                WorkflowError(
                    file="agents.yaml", line=lines.line_of(at), field=format_path(at),
                    message="structured_outputs_required is true but structured_outputs.yaml's registry "
                    "names no model for this agent",
                )
            )  # fmt: skip


def _exposure(result: FolderTranslation, exposure: dict[str, Any]) -> None:
    """context_variables.yaml ``agents[].variables``: which variables each agent's prompt sees."""
    agents = _agents(result)
    variables_file = result.files.get("context_variables.yaml")
    for agent, (names, at) in exposure.items():
        if agent not in agents:
            assert variables_file is not None
            variables_file.warn(at, f"'{agent}' is not an agent of agents.yaml; its variables are ignored")
            continue
        agents[agent]["context_variables"] = names
        # Where the exposure is written, for the "not yet run" warning (runtime_core.workflow.pending).
        if variables_file is not None:
            variables_file.map_from_source(("exposure", agent), at)

"""tools.yaml of the early original dialect: ``backend_tools`` / ``ui_tools`` keyed by agent.

The original runtime's first YAML-driven tool registry read tools.yaml as two mappings, agent name (or
``ALL_AGENTS``) -> list of entries, merged per agent (backend first, then UI). Facts it followed, kept here:

- an entry is a mapping with ``path`` (``module.function``, imported with ``importlib``) or the bare path
  string; the tool's name is the function's name, its description the entry's ``description`` or else the
  function's docstring;
- ``ALL_AGENTS`` gives the tools to every agent of agents.yaml (the user proxy is made later, without them);
- a key that names no agent was logged and skipped;
- a UI entry's ``tool_id`` / ``display`` were stored with the tool (``display`` defaulting to inline) for the
  client, while the tool function itself emitted its component and awaited the answer
  (``emit_ui_tool_event`` / ``wait_for_ui_tool_response``, served by ``runtime_core.compat``);
- fields it did not know were kept as attributes and never read, so here they are warned about, not refused.

A path resolves to a function of the workflow's own ``tools/`` folder, ``workflows.<Name>.tools.<module>``
(``<Name>`` the folder or the workflow name, as the original's ``workflows`` package held one folder per
workflow); the translation is the one spec's ``tools`` list, with ``ui`` carrying component and mode.
"""

from __future__ import annotations

from typing import Any

from runtime_core.workflow.original.mapping import Translation, Writer
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import FieldPath, LineMap

ALL_AGENTS = "ALL_AGENTS"
SECTIONS = ("backend_tools", "ui_tools")
_ENTRY_KEYS = {"path", "description", "tool_id", "ui_tool_id", "display"}
_FILE_KEYS = {*SECTIONS, "lifecycle_tools"}
# The registry's lifecycle events; it loaded these, and the chat loop of that runtime never ran them.
LIFECYCLE_EVENTS = (
    "on_demand", "before_groupchat_start", "after_groupchat_start", "before_agent_speaks",
    "after_agent_speaks", "end_of_chat", "on_error", "on_user_input",
)  # fmt: skip


def is_early_tools(data: Any) -> bool:
    """tools.yaml written with the agent-keyed mappings (or the mapping form of lifecycle_tools)."""
    if not isinstance(data, dict):
        return False
    return any(k in data for k in SECTIONS) or isinstance(data.get("lifecycle_tools"), dict)


def _module_path(path: str, names: set[str]) -> tuple[str, str] | str:
    """``workflows.<Name>.tools.a.b.fn`` -> (``tools/a/b.py``, ``fn``), or why it cannot be resolved."""
    parts = path.split(".")
    expected = f"workflows.<{' or '.join(sorted(names))}>.tools.<module>.<function>"
    if len(parts) < 5 or parts[0] != "workflows" or parts[2] != "tools" or not all(parts):
        return f"path '{path}' must name a function of this workflow's tools folder: {expected}"
    if parts[1] not in names:
        return (
            f"path '{path}' names the workflow '{parts[1]}'; this workflow's tools are imported as "
            f"{expected}{did_you_mean(parts[1], sorted(names))}"
        )
    return "tools/" + "/".join(parts[3:-1]) + ".py", parts[-1]


def tools(data: dict[str, Any], lines: LineMap, names: set[str]) -> tuple[Translation, list[Any]]:
    """The tools in this runtime's shape, and where each ``ALL_AGENTS`` / agent key is written
    (tool position -> list of (agent key, path of the key)) for ``assign_agents`` once agents are known."""
    w = Writer("tools.yaml", lines)
    out: list[dict[str, Any]] = []
    owners: list[list[tuple[str, FieldPath]]] = []
    by_name: dict[str, int] = {}
    for extra in sorted(data.keys() - _FILE_KEYS):
        w.error((extra,), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_FILE_KEYS))}")
    for section in SECTIONS:
        raw = data.get(section)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            w.error((section,), "expected a mapping of agent name (or ALL_AGENTS) to a list of tools")
            continue
        for agent, entries in raw.items():
            key_at: FieldPath = (section, agent)
            if not isinstance(entries, list):
                w.error(key_at, "expected a list of tools (each a mapping with path, description)")
                continue
            for index, entry in enumerate(entries):
                _entry(w, section, str(agent), (*key_at, index), entry, names, out, owners, by_name)
    for name, entry in (
        (data.get("lifecycle_tools") or {}).items() if isinstance(data.get("lifecycle_tools"), dict) else []
    ):
        event = entry.get("lifecycle_event") if isinstance(entry, dict) else None
        w.warn(
            ("lifecycle_tools", name),
            f"lifecycle tool of the early dialect ({event or 'no lifecycle_event'}): the original registry "
            "loaded it and its chat loop never called it; not run (write hooks.yaml or the list form of "
            "lifecycle_tools to run a function)",
        )
    if "lifecycle_tools" in data and not isinstance(data["lifecycle_tools"], dict | None):
        w.error(("lifecycle_tools",), "expected a mapping of name to path, description, lifecycle_event")
    w.out.data = {"tools": out}
    w.map(("tools",), ("backend_tools",) if "backend_tools" in data else ("ui_tools",))
    return w.out, owners


def _entry(
    w: Writer,
    section: str,
    agent: str,
    at: FieldPath,
    entry: Any,
    names: set[str],
    out: list[dict[str, Any]],
    owners: list[list[tuple[str, FieldPath]]],
    by_name: dict[str, int],
) -> None:
    if isinstance(entry, str):
        entry = {"path": entry}
        path_at: FieldPath = at
    elif isinstance(entry, dict):
        path_at = (*at, "path")
    else:
        w.error(at, "expected a tool: a mapping with path and description, or the path itself")
        return
    for extra in sorted(set(entry) - _ENTRY_KEYS):
        w.warn(
            (*at, extra),
            f"'{extra}' is not read (the original registry kept it unused); ignored"
            f"{did_you_mean(str(extra), sorted(_ENTRY_KEYS))}",
        )
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip():
        w.error(path_at, "a tool needs its path: workflows.<Name>.tools.<module>.<function>")
        return
    resolved = _module_path(path.strip(), names)
    if isinstance(resolved, str):
        w.error(path_at, resolved)
        return
    file, function = resolved
    if function in by_name:
        # One function given under several keys: one tool, several agents (the original registered the same
        # function on each agent).
        position = by_name[function]
        if out[position]["file"] != file:
            w.error(path_at, f"tool '{function}' is already defined from {out[position]['file']}")
            return
        owners[position].append((agent, at))
        if section == "ui_tools" and "ui" not in out[position]:
            _ui(w, ("tools", position), at, entry, function, out[position])
        return
    position = len(out)
    tool: dict[str, Any] = {"name": function, "file": file, "function": function, "kind": "agent"}
    base: FieldPath = ("tools", position)
    w.map(base, at)
    for new in ("name", "file", "function", "kind"):
        w.map((*base, new), path_at)
    if "description" in entry:
        tool["description"] = entry["description"]
        w.map((*base, "description"), (*at, "description"))
    if section == "ui_tools":
        _ui(w, base, at, entry, function, tool)
    by_name[function] = position
    owners.append([(agent, at)])
    out.append(tool)


def _ui(w: Writer, base: FieldPath, at: FieldPath, entry: dict[str, Any], function: str, tool: dict) -> None:
    """The client component and display the registry recorded: ``tool_id`` (older ``ui_tool_id``, else the
    function's name) and ``display`` (inline when unset)."""
    id_key = "tool_id" if "tool_id" in entry else "ui_tool_id"
    tool["ui"] = {"component": entry.get(id_key) or function, "mode": entry.get("display") or "inline"}
    w.map((*base, "ui"), at)
    w.map((*base, "ui", "component"), (*at, id_key) if id_key in entry else at)
    w.map((*base, "ui", "mode"), (*at, "display") if "display" in entry else at)


def assign_agents(
    translation: Translation, owners: list[list[tuple[str, FieldPath]]], agents: set[str] | None
) -> None:
    """Each tool's ``agents``: ``ALL_AGENTS`` -> every agent of agents.yaml; a key naming no agent is warned
    about and skipped, as the original registry logged and skipped it."""
    tools = translation.data.get("tools") if isinstance(translation.data, dict) else None
    if not isinstance(tools, list):
        return
    warned: set[FieldPath] = set()
    for position, keys in enumerate(owners):
        given: list[str] = []
        for agent, at in keys:
            if agent == ALL_AGENTS:
                given.extend(sorted(agents or ()))
                continue
            if agents is not None and agent not in agents:
                if at[:2] in warned:
                    continue
                warned.add(at[:2])
                translation.warn(
                    at[:2],
                    f"'{agent}' is not an agent of agents.yaml; the original registry skipped its tools"
                    f"{did_you_mean(agent, sorted(agents | {ALL_AGENTS}))}",
                )
                continue
            given.append(agent)
        unique = list(dict.fromkeys(given))
        tools[position]["agents"] = unique
        first = keys[0][1]
        for index in range(len(unique)):
            translation.map_from_source(("tools", position, "agents", index), first[:2])

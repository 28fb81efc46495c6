"""tools.yaml, hooks.yaml and context_variables.yaml of the original dialect.

Facts of the original runtime this follows: a tool entry names one ``agent`` and a bare ``file`` in the
workflow's tools folder, its name is its function's; ``UI_Tool`` / ``Agent_Tool`` are the two tool types; a
hook names ``hook_type``, ``hook_agent`` (or all) and ``filename``; a variable's ``source`` says where its
value comes from (``config`` = an environment variable, ``computed`` = set by tools, ``state`` = set by
triggers) and holds its default.
"""

from __future__ import annotations

from typing import Any

from runtime_core.workflow.original import variant
from runtime_core.workflow.original.mapping import Translation, Writer, entries
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import FieldPath, LineMap

# A UI_Tool of the original runtime asks the UI itself, from its body (``await use_ui_tool(...)``),
# and returns its result: here it is a tool the executor runs like any other (``kind: agent``, its ``ui``
# block kept), whose wait ends the step and is replayed (runtime_core.compat, runtime_core.tools.ask_ui).
# This runtime's ``kind: ui`` is another contract (the function builds the payload, the answer is the result).
TOOL_TYPES = {"UI_Tool": "agent", "Agent_Tool": "agent"}
_TOOL_KEYS = {"agent", "file", "function", "description", "tool_type", "auto_invoke", "ui"}
# Keys of a tool entry the original's tool loader never read (published SubscriptionAdvisor): loaded and
# ignored, with a warning; nothing enforces them.
_IGNORED_TOOL_KEYS = {"constraints"}


def _tool_file(value: Any) -> Any:
    # The original resolved a bare file name inside the workflow's tools folder.
    if isinstance(value, str) and "/" not in value and "\\" not in value:
        return f"tools/{value}"
    return value


def _ui(value: Any) -> Any:
    """The ``ui`` block, or None when it is absent or names neither a component nor a mode."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return value
    if value.get("component") is None and value.get("mode") is None and set(value) <= {"component", "mode"}:
        return None
    return value


def tools(data: dict[str, Any], lines: LineMap) -> Translation:
    w = Writer("tools.yaml", lines)
    out: list[dict[str, Any]] = []
    by_name: dict[str, int] = {}
    raw = data.get("tools")
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        at: FieldPath = ("tools", index)
        if not isinstance(entry, dict):
            w.error(at, "expected a tool (a mapping with agent, file, function)")
            continue
        for extra in sorted(entry.keys() - _TOOL_KEYS - _IGNORED_TOOL_KEYS - {"name", "kind", "agents"}):
            w.error((*at, extra), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_TOOL_KEYS))}")
        for ignored in sorted(entry.keys() & _IGNORED_TOOL_KEYS):
            w.warn(
                (*at, ignored),
                "ignored, as in the original runtime: its tool loader read only "
                f"{', '.join(sorted(_TOOL_KEYS))}; nothing enforces '{ignored}'",
            )
        name = entry.get("name") or entry.get("function")
        agent = entry.get("agent")
        if isinstance(name, str) and name in by_name:
            # The same function given to another agent: one tool, several agents.
            first = out[by_name[name]]
            if first.get("file") != _tool_file(entry.get("file")):
                w.error((*at, "function"), f"tool '{name}' is already defined from {first.get('file')}")
            elif isinstance(agent, str):
                first.setdefault("agents", []).append(agent)
                w.map(("tools", by_name[name], "agents", len(first["agents"]) - 1), (*at, "agent"))
            continue
        position: FieldPath = ("tools", len(out))
        tool: dict[str, Any] = {"name": name}
        w.map(position, at)
        w.map((*position, "name"), (*at, "name" if "name" in entry else "function"))
        for key in ("file", "function", "description", "auto_invoke"):
            if key in entry:
                tool[key] = _tool_file(entry[key]) if key == "file" else entry[key]
                w.map((*position, key), (*at, key))
        if isinstance(agent, str):
            tool["agents"] = [agent]
            w.map((*position, "agents", 0), (*at, "agent"))
        elif "agents" in entry:
            tool["agents"] = entry["agents"]
            w.copy_lines((*position, "agents"), (*at, "agents"), entry["agents"])
        kind = entry.get("tool_type", entry.get("kind"))
        if "tool_type" in entry and kind not in TOOL_TYPES:
            w.error(
                (*at, "tool_type"),
                f"unknown tool_type {kind!r}; expected UI_Tool or Agent_Tool"
                f"{did_you_mean(str(kind), TOOL_TYPES)}",
            )
        elif kind is not None:
            tool["kind"] = TOOL_TYPES.get(kind, kind)
            w.map((*position, "kind"), (*at, "tool_type" if "tool_type" in entry else "kind"))
        ui = _ui(entry.get("ui"))
        if ui is not None:
            tool["ui"] = ui
            w.copy_lines((*position, "ui"), (*at, "ui"), ui)
        if isinstance(name, str):
            by_name[name] = len(out)
        out.append(tool)
    lifecycle = []
    raw_life = data.get("lifecycle_tools")
    for index, entry in enumerate(raw_life if isinstance(raw_life, list) else []):
        at = ("lifecycle_tools", index)
        if not isinstance(entry, dict):
            lifecycle.append(entry)
            w.map(("lifecycle_tools", len(lifecycle) - 1), at)
            continue
        item = {k: v for k, v in entry.items() if k not in ("tool_type", "auto_invoke", "ui")}
        if "file" in item:
            item["file"] = _tool_file(item["file"])
        if entry.get("tool_type") not in (None, *TOOL_TYPES):
            w.error(
                (*at, "tool_type"),
                f"unknown tool_type {entry['tool_type']!r}; expected UI_Tool or Agent_Tool",
            )
        ui = _ui(entry.get("ui"))
        if ui is not None:
            item["ui"] = ui
        position = ("lifecycle_tools", len(lifecycle))
        w.copy_lines(position, at, item)
        lifecycle.append(item)
    result: dict[str, Any] = {k: v for k, v in data.items() if k not in ("tools", "lifecycle_tools")}
    for key, value in result.items():
        w.copy_lines((key,), (key,), value)
    result["tools"] = out if raw is not None else None
    w.map(("tools",), ("tools",))
    if raw_life is not None:
        result["lifecycle_tools"] = lifecycle if isinstance(raw_life, list) else raw_life
        w.map(("lifecycle_tools",), ("lifecycle_tools",))
    w.out.data = result
    return w.out


_HOOK_FIELDS = {"hook_type": "type", "hook_agent": "agent", "filename": "file", "function": "function"}


def hooks(data: dict[str, Any], lines: LineMap) -> Translation:
    w = Writer("hooks.yaml", lines)
    out = []
    raw = data.get("hooks")
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        at: FieldPath = ("hooks", index)
        w.map(("hooks", index), at)
        if not isinstance(entry, dict):
            out.append(entry)
            continue
        hook: dict[str, Any] = {}
        for key, value in entry.items():
            new = _HOOK_FIELDS.get(key, key)
            hook[new] = _tool_file(value) if new == "file" else value
            w.map(("hooks", index, new), (*at, key))
        out.append(hook)
    result = {k: v for k, v in data.items() if k != "hooks"}
    result["hooks"] = out if raw is not None else None
    w.map(("hooks",), ("hooks",))
    w.out.data = result
    return w.out


VARIABLE_TYPES = {
    "string": "str", "str": "str", "text": "str",
    "boolean": "bool", "bool": "bool",
    "integer": "int", "int": "int",
    "number": "float", "float": "float",
    "array": "list", "list": "list",
    "object": "dict", "dict": "dict",
}  # fmt: skip
_SOURCE_KINDS = {
    "config": "env", "static": "static", "computed": "computed", "state": "state",
    "data_reference": "data_reference", "file": "file", "external": "external", "data_entity": "data_entity",
}  # fmt: skip
_REFERENCE_KEYS = ("db_type", "database_name", "collection", "query_template", "fields")


def context_variables(data: dict[str, Any], lines: LineMap) -> tuple[Translation, dict[str, Any]]:
    """The variables, and the per-agent exposure (agent -> (names, path)) for the cross-file step."""
    w = Writer("context_variables.yaml", lines)
    if isinstance(data.get("context_variables"), dict):
        return variant.mapped_variables(w, data)
    out = []
    for index, (key, name, entry) in enumerate(entries(data.get("definitions"))):
        at: FieldPath = ("definitions", key)
        position: FieldPath = ("context_variables", index)
        w.map(position, at)
        if not isinstance(entry, dict):
            out.append(entry)
            continue
        var: dict[str, Any] = {"name": name}
        w.map((*position, "name"), (*at, "name") if "name" in entry else at)
        source = entry.get("source") if isinstance(entry.get("source"), dict) else {}
        if "source" in entry and not isinstance(entry["source"], dict):
            w.error((*at, "source"), "expected a mapping with type (config, static, computed, state, ...)")
        for field, value in entry.items():
            if field in ("name", "source"):
                continue
            new = field
            if field == "type":
                value = VARIABLE_TYPES.get(value, value) if isinstance(value, str) else value
            var[new] = value
            w.map((*position, new), (*at, field))
        _source(w, at, position, source, var)
        if "type" not in var:
            var["type"] = _infer_type(var.get("default"))
        out.append(var)
    exposure: dict[str, Any] = {}
    for key, name, entry in entries(data.get("agents")):
        at = ("agents", key)
        agent = name
        if isinstance(entry, dict):
            agent = entry.get("agent_name") or entry.get("agent") or name
            variables = entry.get("variables", [])
        else:
            variables = entry
        if not isinstance(agent, str) or not isinstance(variables, list):
            w.error(at, "expected agent_name and a list of variables")
            continue
        exposure[agent] = (variables, at)
    for extra in sorted(data.keys() - {"definitions", "agents"}):
        w.error((extra,), f"unknown field '{extra}'{did_you_mean(str(extra), ['definitions', 'agents'])}")
    w.map(("context_variables",), ("definitions",))
    w.out.data = {"context_variables": out}
    return w.out, exposure


def _source(
    w: Writer, at: FieldPath, position: FieldPath, source: dict[str, Any], var: dict[str, Any]
) -> None:
    src = (*at, "source")
    kind = source.get("type", "static")
    if kind not in _SOURCE_KINDS:
        w.error(
            (*src, "type"),
            f"unknown source type {kind!r}; expected one of: {', '.join(_SOURCE_KINDS)}"
            f"{did_you_mean(str(kind), _SOURCE_KINDS)}",
        )
        return
    var["source"] = _SOURCE_KINDS[kind]
    w.map((*position, "source"), (*src, "type") if "type" in source else src)
    options: dict[str, Any] = {}
    for field, value in source.items():
        if field == "type":
            continue
        if field == "default":
            var["default"] = value
            w.map((*position, "default"), (*src, "default"))
        elif field == "env_var" and kind == "config":
            var["env_var"] = value
            w.map((*position, "env_var"), (*src, "env_var"))
        elif field in _REFERENCE_KEYS and kind == "data_reference":
            var.setdefault("reference", {})[field] = value
            w.copy_lines((*position, "reference", field), (*src, field), value)
        elif field == "triggers" and kind == "state":
            var["triggers"] = value
            w.copy_lines((*position, "triggers"), (*src, "triggers"), value)
        elif field in ("path", "format") and kind == "file":
            var[field] = value
            w.map((*position, field), (*src, field))
        elif field == "required" and kind == "file":
            continue  # read below: it decides what a missing file does
        elif field == "transitions" and value in ([], None):
            continue
        else:
            options[field] = value
            w.copy_lines((*position, "source_options", field), (*src, field), value)
    if kind == "file":
        # The original read the path from its repository root, the folder holding ``workflows/``, and a
        # missing (or refused) file without ``required: true`` left the default (context_files.py).
        var["from_workflows_root"] = True
        var["missing"] = "error" if source.get("required") is True else "default"
        w.map((*position, "missing"), (*src, "required") if "required" in source else src)
    if options:
        var["source_options"] = options
    if kind == "data_reference":
        w.map((*position, "reference"), src)


def _infer_type(default: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (list, "list"), (dict, "dict")):
        if isinstance(default, kind):
            return name
    return "str"

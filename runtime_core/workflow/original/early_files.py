"""orchestrator, agents, handoffs and context_variables files of the early original dialect.

The early dialect is the one the original runtime read with its first YAML file manager, whose tools.yaml
has ``backend_tools`` / ``ui_tools`` (``early_tools``). Its other files differ from the later original
dialect in a few fields; each is read here with the meaning that runtime gave it:

- orchestrator.yaml ``recipient``: the agent the opening message is for, i.e. the initial agent;
- agents.yaml (a name -> agent mapping): ``llm_config_type`` names a flow of structured_outputs.yaml's
  ``registry`` (``base``, the default, or a flow the registry lacks: the plain model config);
  ``human_input_mode`` was handed to AG2's ``ConversableAgent`` (NEVER by default);
- handoffs.yaml: the rules sit under ``handoffs: {handoff_rules: [...]}``; only ``target_agent`` chose the
  target (``user`` -> back to the user, ``terminate`` -> end; ``transition_target`` was not read); a
  ``condition`` rule is always judged by the model (``StringLLMCondition``), ordered by ``priority`` (lower
  first, default 1); a ``context_condition`` rule's ``context_expression`` is an AG2 context condition,
  checked before the agent replies;
- context_variables.yaml: ``context_variables: {variables: [...]}``, each ``name``, ``description``,
  ``default_value`` and optionally ``database`` (``collection``, ``query``, ``field`` defaulting to
  ``content``): the field of the first matching document of the database the runtime was configured with
  (``autogen_ai_agents`` by default), read when the chat starts.
"""

from __future__ import annotations

from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.original.mapping import Translation, Writer
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path

HUMAN_INPUT_MODES = ("NEVER", "ALWAYS", "TERMINATE")
BASE_FLOW = "base"
EARLY_DATABASE = "autogen_ai_agents"


def is_early_handoffs(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("handoffs"), dict)


def is_early_variables(data: Any) -> bool:
    # ``variables`` must be there: a name -> variable mapping under ``context_variables`` is another shape.
    block = data.get("context_variables") if isinstance(data, dict) else None
    return isinstance(block, dict) and "variables" in block


def is_early_agents(data: Any) -> bool:
    agents = data.get("agents") if isinstance(data, dict) else None
    return isinstance(agents, dict) and any(
        isinstance(a, dict) and {"llm_config_type", "human_input_mode"} & a.keys() for a in agents.values()
    )


def _under(lines: LineMap, prefix: FieldPath) -> LineMap:
    """The line map of the part of a file under ``prefix``, with ``prefix`` cut from its paths."""
    cut = len(prefix)
    return LineMap({k[cut:]: v for k, v in lines.lines.items() if k[:cut] == prefix})


def _prefixed(translation: Translation, prefix: str) -> Translation:
    """Errors, warnings and the way back renamed to the field as written (``handoffs.`` + field)."""
    for item in [*translation.errors, *translation.warnings]:
        item.field = f"{prefix}.{item.field}" if item.field else prefix
    translation.origin = {k: f"{prefix}.{v}" if v else prefix for k, v in translation.origin.items()}
    return translation


def orchestrator_recipient(translation: Translation, data: dict[str, Any]) -> None:
    """``recipient`` is the initial agent (the original's generator described it so: the first agent)."""
    out = translation.data
    if "recipient" not in data or not isinstance(out, dict):
        return
    recipient = out.pop("recipient", None)
    translation.origin.pop("recipient", None)
    if "initial_agent" in data and data["initial_agent"] != recipient:
        translation.out_error(("recipient",), "set either recipient or initial_agent, not both")
        return
    if recipient is not None:
        out["initial_agent"] = recipient
        translation.map_from_source(("initial_agent",), ("recipient",))


def agents_fields(translation: Translation, registry: dict[str, Any]) -> dict[str, Any]:
    """``human_input_mode`` checked and kept; ``llm_config_type`` resolved against the registry's flows.

    Returns the registry by agent (agent -> (model, path in structured_outputs.yaml)) that replaces the
    flow-keyed one."""
    by_agent: dict[str, Any] = {}
    agents = translation.data.get("agents") if isinstance(translation.data, dict) else None
    for index, agent in enumerate(agents or []):
        if not isinstance(agent, dict):
            continue
        at: FieldPath = ("agents", agent.get("name"))
        mode = agent.get("human_input_mode")
        if mode is not None and mode not in HUMAN_INPUT_MODES:
            translation.out_error(
                (*at, "human_input_mode"),
                f"unknown human_input_mode {mode!r}; expected one of: {', '.join(HUMAN_INPUT_MODES)}"
                f"{did_you_mean(str(mode), HUMAN_INPUT_MODES)}",
            )
            agent.pop("human_input_mode")
        if "max_consecutive_auto_reply" not in agent:
            # The early runtime made every agent with max_consecutive_auto_reply=2 unless it said otherwise.
            agent["max_consecutive_auto_reply"] = 2
            translation.map_from_source(("agents", index, "max_consecutive_auto_reply"), at)
        flow = agent.pop("llm_config_type", BASE_FLOW)
        translation.origin.pop(format_path(("agents", index, "llm_config_type")), None)
        if not isinstance(flow, str):
            translation.out_error(
                (*at, "llm_config_type"), "expected the name of a flow (base or a registry key)"
            )
            continue
        if flow in registry:
            # Kept with its place in structured_outputs.yaml: a model the registry names wrongly is reported
            # there.
            by_agent[agent["name"]] = registry[flow]
        elif flow != BASE_FLOW:
            translation.warn(
                (*at, "llm_config_type"),
                f"structured_outputs.yaml's registry has no flow '{flow}': the agent gets the plain model "
                "config (free text replies), as in the original runtime",
            )
    return by_agent


def handoffs(data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], LineMap, list[tuple[str, str]]]:
    """The nested rules as the later dialect's ``handoff_rules`` (for ``orchestration.handoffs``), their
    lines, and the renames (new field -> field as written) of rules rewritten from ``context_condition``."""
    inner = data["handoffs"]
    rules = inner.get("handoff_rules")
    source = _under(lines, ("handoffs",))
    if not isinstance(rules, list):
        return {"handoff_rules": rules}, source, []
    rewritten: list[Any] = []
    renames: list[tuple[str, str]] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            rewritten.append(rule)
            continue
        rule = {k: v for k, v in rule.items() if k not in ("transition_target", "priority")}
        kind = rule.get("handoff_type", "after_work")
        if kind == "condition":
            rule.setdefault("condition_type", "string_llm")
        elif kind == "context_condition":
            rule["handoff_type"], rule["condition_type"] = "condition", "expression"
            rule["condition_scope"] = "pre"
            rule["condition"] = rule.pop("context_expression", None)
            renames.append(
                (f"handoff_rules[{index}].condition", f"handoff_rules[{index}].context_expression")
            )
        rewritten.append(rule)
    order = _by_priority(rules)
    permuted = LineMap(dict(source.lines))
    for new, old in enumerate(order):
        for key, line in source.lines.items():
            if key[:2] == ("handoff_rules", old):
                permuted.lines[("handoff_rules", new, *key[2:])] = line
    return {"handoff_rules": [rewritten[i] for i in order]}, permuted, renames


def _by_priority(rules: list[Any]) -> list[int]:
    """Rule indexes with each source's condition rules sorted by priority (stable), others in place."""
    order = list(range(len(rules)))
    slots: dict[Any, list[int]] = {}
    for index, rule in enumerate(rules):
        if isinstance(rule, dict) and rule.get("handoff_type") == "condition":
            slots.setdefault(rule.get("source_agent"), []).append(index)
    for indexes in slots.values():
        ranked = sorted(indexes, key=lambda i: _priority(rules[i]))
        for slot, index in zip(indexes, ranked, strict=True):
            order[slot] = index
    return order


def _priority(rule: dict[str, Any]) -> float:
    value = rule.get("priority", 1)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 1


def finish_handoffs(
    translation: Translation, renames: list[tuple[str, str]], data: dict[str, Any], lines: LineMap
) -> Translation:
    for new, old in renames:
        for key, value in translation.origin.items():
            if value == new:
                translation.origin[key] = old
    translation = _prefixed(translation, "handoffs")
    # The new top key is also the written one: renaming it would rename every written field again.
    translation.origin.pop("handoffs", None)
    # Keys beside the rules were never read: a misspelt ``handoff_rules`` would silently drop every rule.
    unknown = [((k,), ["handoffs"]) for k in data if k != "handoffs"]
    unknown += [(("handoffs", k), ["handoff_rules"]) for k in data["handoffs"] if k != "handoff_rules"]
    for at, known in unknown:
        translation.errors.append(
            WorkflowError(
                file="handoffs.yaml", line=lines.line_of(at), field=format_path(at),
                message=f"unknown field '{at[-1]}'{did_you_mean(str(at[-1]), known)}",
            )
        )  # fmt: skip
    return translation


_VARIABLE_KEYS = {"name", "description", "default_value", "database", "type"}
_DATABASE_KEYS = {"collection", "query", "field"}


def context_variables(data: dict[str, Any], lines: LineMap) -> Translation:
    w = Writer("context_variables.yaml", lines)
    inner = data["context_variables"]
    for extra in sorted(data.keys() - {"context_variables"}):
        w.error((extra,), "unknown field; this file holds context_variables: {variables: [...]}")
    for extra in sorted(inner.keys() - {"variables"}):
        w.error(
            ("context_variables", extra), f"unknown field '{extra}'{did_you_mean(str(extra), ['variables'])}"
        )
    raw = inner.get("variables") or []
    out: list[Any] = []
    if not isinstance(raw, list):
        w.error(("context_variables", "variables"), "expected a list of variables (name, default_value, ...)")
        raw = []
    for index, entry in enumerate(raw):
        at: FieldPath = ("context_variables", "variables", index)
        position: FieldPath = ("context_variables", index)
        w.map(position, at)
        if not isinstance(entry, dict):
            out.append(entry)
            continue
        for extra in sorted(entry.keys() - _VARIABLE_KEYS):
            w.error(
                (*at, extra), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_VARIABLE_KEYS))}"
            )
        var: dict[str, Any] = {"name": entry.get("name")}
        w.map((*position, "name"), (*at, "name"))
        for old, new in (("description", "description"), ("default_value", "default"), ("type", "type")):
            if old in entry:
                var[new] = entry[old]
                w.map((*position, new), (*at, old))
        # The original set every variable, a missing default being the empty string.
        var.setdefault("default", "")
        database = entry.get("database")
        if database is not None:
            _database(w, at, position, database, var)
        if "type" not in var:
            var["type"] = _infer_type(var["default"])
        out.append(var)
    # Lines only: ``context_variables`` is also the written top key, and a rename of it would rename the
    # written fields (``context_variables.variables[0]...``) again.
    w.out.lines.lines[("context_variables",)] = w.line(("context_variables", "variables"))
    w.out.data = {"context_variables": out}
    return w.out


def _database(w: Writer, at: FieldPath, position: FieldPath, database: Any, var: dict[str, Any]) -> None:
    db_at = (*at, "database")
    if not isinstance(database, dict) or not database.get("collection"):
        w.error(db_at, "expected a mapping with collection (and query, field)")
        return
    for extra in sorted(database.keys() - _DATABASE_KEYS):
        w.error((*db_at, extra), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_DATABASE_KEYS))}")
    var["source"] = "data_reference"
    w.map((*position, "source"), db_at)
    reference = {
        # The original read MONGODB_DATABASE_NAME (or its Key Vault secret) with this default.
        "database_name": EARLY_DATABASE,
        "collection": database["collection"],
        "query_template": database.get("query") or {},
        "fields": [database.get("field") or "content"],
    }
    var["reference"] = reference
    w.map((*position, "reference"), db_at)
    w.map((*position, "reference", "database_name"), db_at)
    w.map((*position, "reference", "collection"), (*db_at, "collection"))
    w.copy_lines((*position, "reference", "query_template"), (*db_at, "query"), reference["query_template"])
    w.map((*position, "reference", "fields"), (*db_at, "field"))


def _infer_type(default: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (list, "list"), (dict, "dict")):
        if isinstance(default, kind):
            return name
    return "str"

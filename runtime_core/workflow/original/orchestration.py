"""orchestrator.yaml, agents.yaml and handoffs.yaml of the original dialect, in this runtime's shape.

Facts of the original runtime this follows (its loader and handoff wiring): a missing ``max_turns`` is 50, a
missing pattern is AutoPattern, a missing startup mode is AgentDriven, ``human_in_the_loop`` defaults to
false; the opening message is ``initial_message``, else ``initial_message_to_user``. Prompt sections are
joined in order, each as its heading line then its content. A condition rule whose ``condition_type`` is
unset is an expression when its text holds ``${``, else a model-judged condition; an expression rule with
``condition_scope: pre`` is checked before the agent replies, any other one is a conditional after-work
(checked when the agent's turn is over, before the unconditional after-work). The last after-work rule of an
agent wins.
"""

from __future__ import annotations

import re
from typing import Any

from runtime_core.workflow.original import variant
from runtime_core.workflow.original.mapping import Translation, Writer, entries, truthy
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import LineMap

PATTERNS = {
    "DefaultPattern": "handoff_based",
    "AutoPattern": "auto",
    "RoundRobinPattern": "round_robin",
    "RandomPattern": "random",
}
STARTUP = {"AgentDriven": "agent_first", "UserDriven": "user_first", "BackendOnly": "agent_first"}
_SIMPLE = (
    "description",
    "max_turns",
    "initial_agent",
    "llm_config",
    "termination_keywords",
    "runtime_extensions",
)
# Keys of a variant of orchestrator.yaml (published SubscriptionAdvisor). The original runtime merged every
# key of orchestrator.yaml into the workflow's config and nothing read these: loaded, ignored, with a warning.
IGNORED_KEYS = {
    "metadata": "descriptive only",
    "triggers": "no run is started from it (no scheduler of the original read it)",
    "inputs": "what starts a run is not checked against it",
    "outputs": "what a run produces is not checked against it",
}


def orchestrator(data: dict[str, Any], lines: LineMap, folder: str) -> Translation:
    w = Writer("orchestrator.yaml", lines)
    out: dict[str, Any] = {}
    known = {*_SIMPLE, "workflow_name", "orchestration_pattern", "startup_mode", "human_in_the_loop"}
    known |= {"initial_message", "initial_message_to_user", "visual_agents", "visible_agents"}
    known |= IGNORED_KEYS.keys()
    out["workflow_name"] = data.get("workflow_name") or folder
    w.map(("workflow_name",), ("workflow_name",))
    if not data.get("workflow_name") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", folder):
        w.error(
            ("workflow_name",),
            f"workflow_name is not set and the folder name {folder!r} is not a valid name (letters, digits "
            "and underscores, not starting with a digit): set workflow_name",
        )
        out["workflow_name"] = "unnamed"
    for key in _SIMPLE:
        if key in data:
            out[key] = data[key]
            w.copy_lines((key,), (key,), data[key])
    out.setdefault("max_turns", 50)
    pattern = data.get("orchestration_pattern", "AutoPattern")
    if pattern in PATTERNS:
        out["orchestration_strategy"] = PATTERNS[pattern]
        w.map(("orchestration_strategy",), ("orchestration_pattern",))
    else:
        # The original's pattern factory raised "Unknown orchestration pattern" for any other name when a
        # run started, so no agent spoke (its oldest versions fell back to DefaultPattern; later ones not).
        w.error(
            ("orchestration_pattern",),
            f"orchestration pattern {pattern!r} is not supported, and the original runtime did not run it "
            "either (its pattern factory refused it when a run started: 'Unknown orchestration pattern'); "
            f"use one of {', '.join(PATTERNS)}{did_you_mean(str(pattern), PATTERNS)}",
        )
    for key, why in IGNORED_KEYS.items():
        if key in data:
            w.warn((key,), f"ignored, as in the original runtime (nothing read '{key}'): {why}")
    startup = data.get("startup_mode", "AgentDriven")
    if startup in STARTUP:
        out["startup_mode"] = STARTUP[startup]
        w.map(("startup_mode",), ("startup_mode",))
    else:
        w.error(
            ("startup_mode",),
            f"unknown startup_mode {startup!r}; expected one of: {', '.join(STARTUP)}"
            f"{did_you_mean(str(startup), STARTUP)}",
        )
    out["human_in_the_loop"] = truthy(data.get("human_in_the_loop", False))
    w.map(("human_in_the_loop",), ("human_in_the_loop",))
    opening = data.get("initial_message") or data.get("initial_message_to_user")
    if opening is not None:
        out["initial_message"] = opening
        w.map(
            ("initial_message",),
            ("initial_message" if data.get("initial_message") else "initial_message_to_user",),
        )
    if data.get("initial_message_to_user") is not None:
        out["initial_message_to_user"] = data["initial_message_to_user"]
        w.map(("initial_message_to_user",), ("initial_message_to_user",))
    visual = data.get("visual_agents", data.get("visible_agents"))
    key = "visual_agents" if "visual_agents" in data else "visible_agents"
    if visual is not None:
        out["visible_agents"] = _without_user(visual)
        w.copy_lines(("visible_agents",), (key,), out["visible_agents"])
    for extra, value in data.items():
        if extra not in known:
            # Passed on: this runtime's model reports it as an unknown field at its own line.
            out[extra] = value
            w.copy_lines((extra,), (extra,), value)
    w.out.data = out
    return w.out


def _without_user(names: Any) -> Any:
    # The user's own messages always reach the user; the original listed "user" to say so.
    return [n for n in names if n != "user"] if isinstance(names, list) else names


def agents(data: dict[str, Any], lines: LineMap) -> Translation:
    w = Writer("agents.yaml", lines)
    raw = data.get("agents")
    out_agents: list[Any] = []
    for index, (key, name, entry) in enumerate(entries(raw)):
        old = ("agents", key)
        if not isinstance(entry, dict):
            out_agents.append(entry)
            w.map(("agents", index), old)
            continue
        agent: dict[str, Any] = {}
        if isinstance(raw, dict):
            agent["name"] = name
            w.map(("agents", index, "name"), old)
        w.map(("agents", index), old)
        sections_key = "prompt_sections" if entry.get("prompt_sections") else "prompt_sections_custom"
        for field, value in entry.items():
            if field in ("prompt_sections", "prompt_sections_custom"):
                if field == sections_key:
                    agent["system_message"] = _prompt(w, (*old, field), value)
                    w.map(("agents", index, "system_message"), (*old, field))
            elif field == "structured_outputs_required":
                # Read with structured_outputs.yaml's registry (runtime_core.workflow.original.crossfile).
                continue
            else:
                agent[field] = truthy(value) if field == "auto_tool_mode" else value
                w.copy_lines(("agents", index, field), (*old, field), value)
        if "system_message" in agent and "system_message" in entry and entry.get(sections_key):
            w.error((*old, "system_message"), "set either prompt_sections or system_message, not both")
        # The original runtime's message for an agent without any.
        agent.setdefault("system_message", DEFAULT_SYSTEM_MESSAGE)
        out_agents.append(agent)
    out = {k: v for k, v in data.items() if k != "agents"}
    for k, v in out.items():
        w.copy_lines((k,), (k,), v)
    out["agents"] = out_agents if raw is not None else None
    w.map(("agents",), ("agents",))
    w.out.data = out
    return w.out


DEFAULT_SYSTEM_MESSAGE = "You are a helpful AI assistant."
# The fixed form: a mapping of named sections, composed in this order (others are not used).
SECTION_ORDER = (
    "role", "objective", "context", "runtime_integrations", "guidelines", "instructions", "examples",
    "json_output_compliance", "output_format",
)  # fmt: skip


def _prompt(w: Writer, at: tuple[Any, ...], sections: Any) -> str:
    """The sections as one system message: each its heading line, then its content (stripped), the
    sections separated by a blank line; a section with only a heading is its heading."""
    if isinstance(sections, dict) and not {"heading", "content"} & sections.keys():
        for extra in sorted(sections.keys() - set(SECTION_ORDER)):
            w.warn(
                (*at, extra),
                f"section '{extra}' is not one the original runtime composed ({', '.join(SECTION_ORDER)}); "
                f"not used{did_you_mean(str(extra), SECTION_ORDER)}",
            )
        ordered = [(key, sections[key]) for key in SECTION_ORDER if isinstance(sections.get(key), dict)]
    elif isinstance(sections, list):
        ordered = list(enumerate(sections))
    else:
        w.error(at, "expected a list of sections (id, heading, content)")
        return ""
    parts = []
    for index, section in ordered:
        if not isinstance(section, dict):
            w.error((*at, index), "expected a mapping with id, heading and content")
            continue
        for extra in section.keys() - {"id", "heading", "content"}:
            w.error(
                (*at, index, extra),
                f"unknown field '{extra}'{did_you_mean(str(extra), ['id', 'heading', 'content'])}",
            )
        content, heading = section.get("content"), section.get("heading")
        if content is None and not heading:
            w.error((*at, index, "content"), "a prompt section needs content (text) or a heading")
            continue
        if not isinstance(content, str | None) or not isinstance(heading, str | None):
            w.error(
                (*at, index, "content" if not isinstance(content, str | None) else "heading"), "expected text"
            )
            continue
        text = (content or "").strip()
        if heading:
            parts.append(f"{heading}\n{text}" if text else heading)
        elif text:
            parts.append(text)
    return "\n\n".join(part.strip() for part in parts).strip()


_TARGETS = {
    "AgentTarget": None,
    "RevertToUserTarget": "user",
    "TerminateTarget": "terminate",
}
_USER_NAMES = {"user", "User", "USER", "user_proxy", "userproxy", "UserProxy", "UserAgent"}
_END_NAMES = {"terminate", "Terminate", "TERMINATE", "end", "End", "END", "stop", "Stop", "STOP"}
_PRE_SCOPES = {"pre", "before_reply", "immediate", "context_pre"}
_RULE_KEYS = {
    "source_agent",
    "target_agent",
    "handoff_type",
    "condition_type",
    "condition_scope",
    "condition",
    "transition_target",
    "description",
}


def handoffs(data: dict[str, Any], lines: LineMap) -> Translation:
    w = Writer("handoffs.yaml", lines)
    if isinstance(data.get("handoffs"), list):
        return variant.listed_handoffs(w, data)
    rules = data.get("handoff_rules")
    if rules is not None and not isinstance(rules, list):
        w.error(("handoff_rules",), "expected a list of rules")
        rules = []
    kept: list[tuple[dict[str, Any], tuple[Any, ...], dict[str, str]] | None] = []
    last_after_work: dict[str, int] = {}
    for index, rule in enumerate(rules or []):
        at = ("handoff_rules", index)
        if not isinstance(rule, dict):
            w.error(at, "expected a rule (a mapping with source_agent, target_agent, handoff_type)")
            continue
        for extra in sorted(rule.keys() - _RULE_KEYS):
            w.error((*at, extra), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_RULE_KEYS))}")
        made = _rule(w, at, rule)
        if made is None:
            continue
        new, fields = made
        if new["condition_type"] == "after_work" and "expression" not in new:
            source = new["from_agent"]
            if source in last_after_work:
                first = kept[last_after_work[source]]
                assert first is not None
                w.warn(
                    first[1],
                    f"'{source}' has a later after_work rule (line {w.line(at)}); the last one "
                    "wins, as in the original runtime, so this one is not used",
                )
                kept[last_after_work[source]] = None
            last_after_work[source] = len(kept)
        kept.append((new, at, fields))
    out = []
    for made in kept:
        if made is None:
            continue
        new, at, fields = made
        position = ("handoffs", len(out))
        w.map(position, at)
        for field, src in fields.items():
            w.map((*position, field), (*at, src))
        out.append(new)
    w.map(("handoffs",), ("handoff_rules",))
    w.out.data = {"handoffs": out}
    return w.out


def _rule(
    w: Writer, at: tuple[Any, ...], rule: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The rule in this runtime's shape and, per new field, the original field it comes from."""
    fields: dict[str, str] = {}
    new: dict[str, Any] = {}
    source, target = rule.get("source_agent"), rule.get("target_agent")
    if not isinstance(source, str) or not isinstance(target, str):
        w.error(at, "a rule needs source_agent and target_agent (agent names)")
        return None
    new["from_agent"] = "user" if source in _USER_NAMES else source
    fields["from_agent"] = "source_agent"
    target = "user" if target in _USER_NAMES else "terminate" if target in _END_NAMES else target
    new["to_agent"] = target
    fields["to_agent"] = "target_agent"
    kind = rule.get("transition_target")
    if kind is not None:
        if kind not in _TARGETS:
            w.error(
                (*at, "transition_target"),
                f"unknown transition_target {kind!r}; expected one of: "
                f"{', '.join(_TARGETS)}{did_you_mean(str(kind), _TARGETS)}",
            )
            return None
        expected = _TARGETS[kind]
        if (expected is None and target in ("user", "terminate")) or (
            expected is not None and target != expected
        ):
            want = "an agent" if expected is None else f"'{expected}'"
            w.error((*at, "transition_target"), f"{kind} needs target_agent {want}, got {target!r}")
            return None
    if rule.get("description"):
        new["description"] = rule["description"]
        fields["description"] = "description"
    handoff_type = rule.get("handoff_type") or "after_work"
    text = rule.get("condition")
    if handoff_type == "after_work":
        new["condition_type"] = "after_work"
        fields["condition_type"] = "handoff_type"
        if text not in (None, ""):
            w.warn(
                (*at, "condition"), "an after_work rule takes no condition; the original runtime ignored it"
            )
        return new, fields
    if handoff_type != "condition":
        w.error(
            (*at, "handoff_type"), f"unknown handoff_type {handoff_type!r}; expected condition or after_work"
        )
        return None
    if not isinstance(text, str) or not text.strip():
        w.error((*at, "condition"), "a condition rule needs its condition (an expression or a sentence)")
        return None
    ctype = str(rule.get("condition_type") or "").strip().lower()
    if ctype and ctype not in {"expression", "context_expression", "context", "llm", "string_llm"}:
        w.error(
            (*at, "condition_type"),
            f"unknown condition_type {rule['condition_type']!r}; expected expression or string_llm",
        )
        return None
    expression = ctype in {"expression", "context_expression", "context"} or (not ctype and "${" in text)
    scope = str(rule.get("condition_scope") or "").strip().lower()
    if expression:
        new["expression"] = text.strip()
        fields["expression"] = "condition"
        if scope in _PRE_SCOPES:
            new["condition_type"], new["evaluate"] = "context", "before_reply"
            fields["evaluate"] = "condition_scope"
        else:
            # A conditional after-work, checked when the turn is over (AG2 after-work conditions).
            new["condition_type"] = "after_work"
        fields["condition_type"] = "condition_type" if ctype else "condition"
        return new, fields
    if scope:
        w.warn(
            (*at, "condition_scope"),
            "condition_scope applies to expressions only; the original runtime "
            "ignored it on a model-judged condition",
        )
    new["condition_type"] = "llm"
    new["condition"] = text.strip()
    fields["condition"] = "condition"
    fields["condition_type"] = "condition_type" if ctype else "condition"
    return new, fields

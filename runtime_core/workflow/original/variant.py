"""Two files of a variant of the original dialect (the published SubscriptionAdvisor's shape), loaded as the
original runtime loaded them: with nothing wired or set, a warning at each entry.

- handoffs.yaml ``handoffs:`` as a list of ``from`` / ``to`` / ``trigger`` / ``description`` / ``conditions``;
- context_variables.yaml ``context_variables:`` as a name -> ``{type, description, default, enum}`` mapping.

Both are read so only in a folder with files of the original dialect (``detect.is_variant``). The variant's
other keys (orchestrator.yaml ``metadata`` / ``triggers`` / ``inputs`` / ``outputs``, tool ``constraints``)
are warned about where their files are translated.
"""

from __future__ import annotations

from typing import Any

from runtime_core.workflow.original.mapping import Translation, Writer

LISTED_NOT_WIRED = (
    "not wired, as in the original runtime: its handoff wiring read only handoff_rules (source_agent, "
    "target_agent, handoff_type, condition); a 'handoffs' list made that wiring fail (logged) and set no "
    "handoff. Write it as a handoff_rules rule to have it run"
)


def listed_handoffs(w: Writer, data: dict[str, Any]) -> Translation:
    """``handoffs:`` as a list of from / to / trigger / conditions (a variant): loaded, none wired.

    The original runtime looked the rules up as ``handoffs.handoffs.handoff_rules``; with a list there it
    failed before reading any rule (``handoff_rules`` beside the list included), caught the failure and went
    on without handoffs.
    """
    for index, entry in enumerate(data["handoffs"]):
        route = ""
        if isinstance(entry, dict):
            route = f"{entry.get('from', '?')} -> {entry.get('to', '?')}: "
        w.warn(("handoffs", index), f"handoff {route}{LISTED_NOT_WIRED}")
    if data.get("handoff_rules"):
        w.warn(
            ("handoff_rules",),
            "not wired either, as in the original runtime: beside a 'handoffs' list its wiring failed "
            "before reading handoff_rules",
        )
    w.out.data = {"handoffs": []}
    return w.out


def mapped_variables(w: Writer, data: dict[str, Any]) -> tuple[Translation, dict[str, Any]]:
    """``context_variables:`` as a name -> {type, description, default, enum} mapping (a variant): none set.

    The original's loader took the ``context_variables`` key when present and read ``definitions`` and
    ``agents`` from inside it; a plain name -> spec mapping has neither, so the workflow had no variables
    (and ``definitions`` / ``agents`` beside the mapping were not read).
    """
    for name in data["context_variables"]:
        w.warn(
            ("context_variables", name),
            f"variable '{name}' is not set, as in the original runtime: its loader read variables only from "
            "'definitions' (each with a source), and a name -> spec mapping under 'context_variables' gave "
            "it none. Write it under definitions with source: {type: static, default: ...} to have it set",
        )
    for other in ("definitions", "agents"):
        if other in data:
            w.warn(
                (other,),
                "not read, as in the original runtime: beside a 'context_variables' mapping its loader read "
                "only that mapping",
            )
    w.out.data = {"context_variables": []}
    return w.out, {}

"""Shared notes of the StackPlan test workflow: a backend tool every agent gets (ALL_AGENTS)."""

from typing import Any


def note(text: str, context_variables: Any = None) -> str:
    """Add a short note to the shared notes."""
    notes = list(context_variables.get("notes") or [])
    notes.append(text)
    context_variables.set("notes", notes)
    return f"{len(notes)} note(s)"


def count_turn(context_variables: Any = None) -> None:
    # Listed as an early-dialect lifecycle tool: never run, so "turns" must never appear in the context.
    context_variables.set("turns", (context_variables.get("turns") or 0) + 1)

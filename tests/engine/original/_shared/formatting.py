"""Formatting helpers shared by the test workflows."""

from __future__ import annotations

from workflows._shared import ARROW


def stage_line(stages: list[str]) -> str:
    """The stages in order, on one line."""
    return ARROW.join(stages)

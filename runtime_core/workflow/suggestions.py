""" "Did you mean ...?" hints for names that are close to a known one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``; case-insensitive: ``escalationagent`` finds ``EscalationAgent``."""
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` or an empty string when nothing is close."""
    match = closest(name, candidates)
    return f"; did you mean '{match}'?" if match else ""

"""The engine's speed-ups, each of which can be switched off to compare a step with and without it.

Production runs with all of them on and never changes them. The resume-equivalence tests run both ways to
prove that none changes a step's result, and ``bench/step.py`` prints the "before" figures with them off.

- ``reuse_groups``: a warm process keeps built AG2 agents and clients per workflow and resets them at the
  start of each step (``engine.warm``); off, every step builds its own, as a fresh process does;
- ``thin_requests``: chat completions skip the OpenAI SDK's request transform (``llm.fastpath``);
- ``fast_client_builds``: AG2 builds a client without inspecting the SDK's constructors each time
  (``llm.fastpath``; it matters to cold steps and to agents with LLM handoffs, which AG2 rebuilds per reply);
- ``share_history``: a step shares the persisted messages (append-only) instead of deep-copying the state,
  and hands AG2 cheap copies of raw replies instead of ``copy.deepcopy`` ones (``engine.history``).

``tuned()`` changes the process-wide setting: only for tests and the bench, never while steps run on other
threads. It empties the group pool on the way in and out, so no group built under one setting serves the
other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Tuning:
    reuse_groups: bool = True
    thin_requests: bool = True
    fast_client_builds: bool = True
    share_history: bool = True


ALL_ON = Tuning()
# The engine as it was before the speed-ups: what a cold process did on every step.
ALL_OFF = Tuning(reuse_groups=False, thin_requests=False, fast_client_builds=False, share_history=False)

_current = ALL_ON


def current() -> Tuning:
    return _current


@contextmanager
def tuned(setting: Tuning | None = None, **changes: Any) -> Iterator[Tuning]:
    """Run the block with ``setting`` (or the current one with ``changes``), then restore the previous."""
    global _current
    from runtime_core.engine.warm import POOL

    previous = _current
    _current = replace(setting or previous, **changes)
    _apply(_current)
    POOL.clear()
    try:
        yield _current
    finally:
        _current = previous
        _apply(previous)
        POOL.clear()


def _apply(setting: Tuning) -> None:
    from runtime_core.llm import fastpath

    fastpath.set_thin(setting.thin_requests)
    fastpath.set_memo(setting.fast_client_builds)

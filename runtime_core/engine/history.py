"""What a step copies and what it shares: the transcript is append-only.

A step never changes a message already on record; it only appends. So the state a step works on shares the
persisted ``ChatMessage`` objects with the state it started from (a new list, the same entries), and only
the small mutable rest (context, engine data, usage...) is copied. The state it started from stays as it
was: a failed step returns it unchanged, and the caller's object is never touched.

AG2, however, changes some messages it is handed (it rewrites tool responses' content in place, the group
chat adds ``name``): a replayed raw reply goes to AG2 as a copy (``detach``). Raw replies are JSON data
(``engine.report.normalize``), so the copy copies dicts and lists only: strings, numbers and None are
immutable and shared, and a plain text reply, the common case, costs nothing. Measured at 1,000 messages
(fork plus every replayed reply): 9.3 ms with ``copy.deepcopy`` against 0.1 ms for text replies, 20.6 ms
against 1.6 ms when every reply is a tool-call dict.

With ``tuning.share_history`` off both fall back to ``copy.deepcopy`` (the bench's "before").
"""

from __future__ import annotations

import copy
from typing import Any

from runtime_core.engine import tuning
from runtime_core.session import SessionState

SHARED_FIELDS = ("messages",)


def fork(state: SessionState) -> SessionState:
    """A copy of ``state`` the step may change: a new message list with the same (never changed) entries,
    everything else deep-copied."""
    if not tuning.current().share_history:
        return state.model_copy(deep=True)
    forked = state.model_copy()
    for name in type(state).model_fields:
        value = getattr(state, name)
        # object.__setattr__: the copy's fields-set stays the original's, as with model_copy(deep=True).
        object.__setattr__(forked, name, list(value) if name in SHARED_FIELDS else copy.deepcopy(value))
    return forked


def detach(raw: Any) -> Any:
    """A copy of a raw reply AG2 may change without changing the one on record (see the module doc)."""
    if not tuning.current().share_history:
        return copy.deepcopy(raw)
    return _copy_json(raw)


def _copy_json(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is int or kind is float or kind is bool:
        return value
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    # Not JSON data (never the case for a normalized reply): no shortcut.
    return copy.deepcopy(value)

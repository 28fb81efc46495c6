"""Why a step failed, as the error code and message clients and the worker see.

Codes (all recoverable: the same state can be stepped again):

- ``model_timeout``: the model did not answer in time: the step's deadline left no room for (another) attempt
  (``llm.retry.DeadlineExceeded``), or the configured timeout expired on every attempt;
- ``model_error``: the model endpoint failed (after the retries), or could not be reached;
- ``model_config_error``: the provider cannot call the model as configured (a missing key);
- ``script_exhausted`` / ``script_error``: the scripted model has no (usable) reply;
- ``tool_error``: a UI tool's function failed while building what the client shows;
- ``input_required``: an agent asked for human input outside a user turn.
"""

from __future__ import annotations

import httpx

from runtime_core.engine.humanio import HumanInputNeeded
from runtime_core.llm.provider import ModelConfigError
from runtime_core.llm.retry import DeadlineExceeded
from runtime_core.llm.scripted import ScriptExhausted, find_script_error


class UIToolFailed(RuntimeError):
    """A UI tool's function raised while building the payload for the client."""


def find_cause[E: BaseException](exc: BaseException, kind: type[E] | tuple[type[E], ...]) -> E | None:
    """The first exception of ``kind`` in ``exc``'s chain (``__cause__``, then ``__context__``), if any.

    The OpenAI client and AG2 wrap what the transport raised (``APITimeoutError`` from ``DeadlineExceeded``,
    then AG2's own ``TimeoutError``), so the reason sits further down the chain.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def classify(exc: Exception) -> tuple[str, str]:
    """(code, message) for an exception that ended a step's turn."""
    from openai import APITimeoutError

    script_error = find_script_error(exc)
    if isinstance(script_error, ScriptExhausted):
        return "script_exhausted", str(script_error)
    if script_error is not None:
        return "script_error", str(script_error)
    if isinstance(exc, UIToolFailed):
        return "tool_error", str(exc)
    if isinstance(exc, ModelConfigError):
        return "model_config_error", str(exc)
    if isinstance(exc, HumanInputNeeded):
        return "input_required", "an agent asked for human input outside a user turn"
    deadline = find_cause(exc, DeadlineExceeded)
    if deadline is not None:
        return "model_timeout", f"the step ran out of time for the model: {deadline}"
    timeout = find_cause(exc, (httpx.TimeoutException, APITimeoutError))
    if timeout is not None:
        return "model_timeout", f"the model did not answer in time ({type(timeout).__name__}: {timeout})"
    return "model_error", f"{type(exc).__name__}: {exc}"

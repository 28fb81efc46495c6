"""The echo model: an offline, deterministic model that makes any valid workflow runnable without a key.

It is what ``mozaiks run`` and ``mozaiks serve`` use when a workflow has neither an API key nor a
``script.yaml`` (and what ``--model echo`` / ``MOZAIKS_MODEL=echo`` select). Like the scripted model it
answers behind the real OpenAI client (``ScriptedModel``'s transport, streaming and usage included), but it
writes its replies from the request itself, so it needs no script:

* a plain agent says ``[echo] <Agent>: ...`` and, when the last message is the user's, repeats it;
* an agent with a structured output (the request's ``response_format`` JSON Schema) answers with a minimal
  instance valid against that schema (``llm.schema_instance``): the engine validates it as it would a real
  model's, and ``auto_tool_mode`` invokes the agent's tool with it. A schema it cannot satisfy fails the step
  with an error naming the agent and the model;
* it never calls a tool or a handoff function on its own: handoffs follow the workflow's after_work and
  context conditions; model-judged (``string_llm``/``llm``) conditions never fire, nor do state triggers
  that wait for an agent to say a given text (nothing could guess it);
* as the group manager (``auto`` speaker selection) it names the candidate after the last speaker, in the
  order the request lists them (round robin), the first one when the last speaker is not among them.

Replies depend only on the request (no clock, no randomness), so one step per fresh process replays exactly
what an uninterrupted run does. Usage is counted like the scripted model's and reported under the model name
``echo``, which the price table prices at zero.
"""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

from runtime_core.llm.schema_instance import SchemaUnsatisfiable, instance_for
from runtime_core.llm.script import Script, ScriptedReply
from runtime_core.llm.scripted import ScriptedModel, ScriptError

ECHO_MODEL = "echo"
SPEAKER_SELECTION = "speaker_selection"
_USER = "user"
_ECHO_LIMIT = 200  # characters of the user's message repeated back: enough to see it, short in a transcript
_CANDIDATES = re.compile(r"select the next role from (\[[^\]]*\])")


class _NoEchoPriceWarning(logging.Filter):
    """AG2 warns on every call that it has no price for the model ``echo``: the runtime prices it (at 0)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(f"Model {ECHO_MODEL} is not found")


_QUIET = _NoEchoPriceWarning()


class EchoUnsatisfiable(ScriptError):
    """The echo model cannot write a value the agent's structured-output schema accepts."""


class EchoModel(ScriptedModel):
    name = ECHO_MODEL
    reported_model = ECHO_MODEL

    def __init__(self, *, chunk_chars: int = 4, pace: float = 0.0) -> None:
        super().__init__(Script(), chunk_chars=chunk_chars, pace=pace)
        logging.getLogger("autogen.oai.client").addFilter(_QUIET)  # a set: adding it twice keeps one

    def reply_for(self, agent: str, call: int, payload: dict[str, Any]) -> ScriptedReply:
        return echo_reply(agent, payload)


def echo_reply(agent: str, payload: dict[str, Any]) -> ScriptedReply:
    """The echo model's reply to ``agent``'s request (``payload``: its JSON body); also a script's
    ``fallback: echo``."""
    messages: list[dict[str, Any]] = payload.get("messages") or []
    schema = _response_schema(payload)
    if schema is not None:
        return ScriptedReply(output=_structured(agent, schema))
    if agent == SPEAKER_SELECTION:
        return ScriptedReply(content=_next_speaker(messages))
    if agent == _USER:  # the engine's judge of model-judged rules from the user: no rule fires
        return ScriptedReply(content="[echo] no rule applies")
    return ScriptedReply(content=_text(agent, messages))


def _response_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    fmt = payload.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = (fmt.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


def _structured(agent: str, schema: dict[str, Any]) -> dict[str, Any]:
    try:
        value = instance_for(schema)
    except SchemaUnsatisfiable as exc:
        raise EchoUnsatisfiable(
            f"the echo model cannot write agent {agent!r}'s structured output "
            f"{schema.get('title', '')!r}: {exc} (set a model key or add a script.yaml reply for {agent})"
        ) from exc
    if not isinstance(value, dict):
        raise EchoUnsatisfiable(
            f"the echo model cannot write agent {agent!r}'s structured output: its schema is not an object"
        )
    return value


def _text(agent: str, messages: list[dict[str, Any]]) -> str:
    last = messages[-1] if messages else {}
    said = _content(last)
    if last.get("role") == "user" and last.get("name", _USER) == _USER and said:
        shown = said if len(said) <= _ECHO_LIMIT else said[:_ECHO_LIMIT] + "…"
        return f"[echo] {agent} received: {shown}"
    return f"[echo] {agent} replied (offline echo model, no API key)."


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # multimodal parts: their text
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return " ".join(str(content or "").split())


def _next_speaker(messages: list[dict[str, Any]]) -> str:
    candidates: list[str] = []
    for message in reversed(messages):
        found = _CANDIDATES.search(_content(message))
        if found:
            try:
                parsed = ast.literal_eval(found.group(1))
            except (ValueError, SyntaxError):
                parsed = [n.strip(" '\"") for n in found.group(1)[1:-1].split(",")]
            # AG2's tool executor is offered too, but only runs tools an agent called: never chosen.
            candidates = [str(n) for n in parsed if str(n) and not str(n).startswith("_")]
            break
    if not candidates:
        return _USER
    speakers = [m.get("name") for m in messages if m.get("name") in candidates]
    last = speakers[-1] if speakers else None
    if last in candidates:
        return candidates[(candidates.index(last) + 1) % len(candidates)]
    return candidates[0]

"""A span per model call, with the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), opened by the
meter's request hook and ended by its response hook (or by the relay when the call raised). One span per
logical call: the retries below (``llm.retry``) are inside it. Nothing happens while tracing is off."""

from __future__ import annotations

import json
from typing import Any

import httpx

from runtime_core.telemetry import tracing

SPAN_KEY = "mozaiks_span"


def open_call(request: httpx.Request, agent: str, purpose: str) -> None:
    if not tracing.enabled():
        return
    try:
        model = str(json.loads(request.content).get("model", ""))
    except (ValueError, AttributeError, httpx.RequestNotRead):
        model = ""
    span = tracing.start(
        f"chat {model}".strip(),
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model or None,
            "gen_ai.agent.name": agent,
            "mozaiks.call.purpose": purpose,
            "server.address": request.url.host,
        },
        kind="client",
    )
    request.extensions[SPAN_KEY] = span


def close_call(request: httpx.Request, response: httpx.Response | None, body: dict[str, Any] | None) -> None:
    span = request.extensions.pop(SPAN_KEY, None)
    if span is None:
        return
    if response is None:
        span.record_error("request_failed")
    elif response.status_code != 200:
        span.set_attribute("http.response.status_code", response.status_code)
        span.record_error(str(response.status_code))
    elif body is not None:
        usage = body.get("usage") or {}
        choices = body.get("choices") or [{}]
        span.set_attributes(
            {
                "gen_ai.response.model": body.get("model"),
                "gen_ai.response.id": body.get("id"),
                "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
                "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
                "gen_ai.response.finish_reasons": [str(c.get("finish_reason")) for c in choices],
            }
        )
    span.end()

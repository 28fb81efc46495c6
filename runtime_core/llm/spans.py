"""A span per model call, with the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), opened by the
meter's request hook and ended by its response hook (or by the relay when the call raised). One span per
logical call: the retries below (``llm.retry``) are inside it. Nothing happens while tracing is off."""

from __future__ import annotations

from typing import Any

import httpx

from runtime_core.telemetry import tracing

SPAN_KEY = "mozaiks_span"


def open_call(request: httpx.Request, agent: str, purpose: str) -> None:
    if not tracing.enabled():
        return
    model = _requested_model(request)
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


def _requested_model(request: httpx.Request) -> str:
    """The body's top-level ``model``, found without parsing the body: a 1,000-message request is hundreds of
    kilobytes, and parsing it per call cost a traced step 10 ms. The SDK writes ``model`` after ``messages``;
    inside a JSON string the key's quotes would be escaped, so a raw ``"model":"`` is a key."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        return ""
    at = body.rfind(b'"model":"')
    if at < 0:
        return ""
    start = at + len(b'"model":"')
    end = body.find(b'"', start)
    return body[start:end].decode("utf-8", "replace") if 0 < end - start <= 200 else ""


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

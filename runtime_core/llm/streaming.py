"""Token streaming below the OpenAI client: the model streams, AG2 still gets one whole chat completion.

``StreamTransport`` sits between the step's meter and its retrying transport. For a call it is asked to
stream (an agent's reply, see ``wants``), it turns the body's ``"stream":false`` into ``"stream":true,
"stream_options":{"include_usage":true}`` (nothing else in the SDK's bytes changes), reads the server-sent
events as they arrive, hands each piece of text to ``on_text`` (agent, offset, text) at once, and answers
the client with the chat completion the chunks add up to: the same JSON a non-streamed call returns, with
``usage`` (OpenAI sends it in a last chunk when ``include_usage`` is set), so AG2, the meter and the usage
ledger see no difference. Why here and not with AG2's own ``stream`` option: that one prints the chunks to
AG2's IO stream and hands the meter an event stream to parse; below the client, nothing above changes.

An OpenAI-compatible server that refuses the stream request as such (400 or 422: some do not know
``stream_options``) gets the call again as it came, unstreamed, and its host is not asked to stream again in
this process: a reply that cannot stream still arrives whole.

A retried attempt (``llm.retry`` below) starts a new response: its text is handed on from offset 0 again, and
a client that places deltas by offset overwrites what the failed attempt sent. A response that is not an
event stream (an error status, a server that ignores ``stream``) is returned as it came.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from runtime_core.llm.meter import EXTENSION

STREAM_OFF = b'"stream":false'
STREAM_ON = b'"stream":true,"stream_options":{"include_usage":true}'
# Hop headers of the streamed response that do not describe the JSON body built from it.
_DROPPED_HEADERS = ("content-length", "content-encoding", "transfer-encoding", "content-type")

# A stream request refused with these: the host does not take it (an unknown stream_options, say).
_REFUSING_STATUS = frozenset({400, 422})
_REFUSED: set[str] = set()

Wants = Callable[[str, str], bool]  # (agent, purpose) -> stream this call?
OnText = Callable[[str, int, str], None]  # (agent, offset, text)
OnEnd = Callable[[str], None]  # (agent): its streamed response ended


class StreamTransport(httpx.BaseTransport):
    def __init__(
        self, inner: httpx.BaseTransport, *, wants: Wants, on_text: OnText, on_end: OnEnd | None = None
    ) -> None:
        self.inner = inner
        self.wants = wants
        self.on_text = on_text
        self.on_end = on_end

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        meta: dict[str, Any] = request.extensions.get(EXTENSION, {})
        agent, purpose = str(meta.get("agent", "")), str(meta.get("purpose", "reply"))
        if not meta or not self.wants(agent, purpose):
            return self.inner.handle_request(request)
        if request.url.host in _REFUSED:
            return self.inner.handle_request(request)
        streamed = streaming_request(request)
        if streamed is None:
            return self.inner.handle_request(request)
        response = self.inner.handle_request(streamed)
        if response.status_code in _REFUSING_STATUS:
            response.close()
            _REFUSED.add(request.url.host)
            return self.inner.handle_request(request)
        if response.status_code != 200 or "text/event-stream" not in response.headers.get("content-type", ""):
            return response
        try:
            completion = assemble(_events(response), lambda offset, text: self.on_text(agent, offset, text))
        finally:
            response.close()
            if self.on_end is not None:
                self.on_end(agent)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS]
        return httpx.Response(
            200,
            headers=headers,
            json=completion,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    def close(self) -> None:
        self.inner.close()


def streaming_request(request: httpx.Request) -> httpx.Request | None:
    """The same request asking for a stream with usage: AG2's ``"stream":false`` becomes ``STREAM_ON`` in
    place (or ``STREAM_ON`` is appended), every other byte unchanged. None when the body is not a JSON object
    or the call already streams or sets stream options (the caller's choice wins)."""
    body = request.read()
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or parsed.get("stream") or "stream_options" in parsed:
        return None
    if "stream" in parsed:
        if body.count(STREAM_OFF) != 1:
            return None  # the top-level field is not the only match: do not guess which one it is
        content = body.replace(STREAM_OFF, STREAM_ON)
    else:
        end = body.rstrip()
        content = end[:-1] + (b"," if parsed else b"") + STREAM_ON + b"}"
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
    return httpx.Request(
        request.method, request.url, headers=headers, content=content, extensions=request.extensions
    )


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, up to ``[DONE]``."""
    buffer = ""
    for text in response.iter_text():
        buffer += text
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            line = line.rstrip("\r")
            if not line.startswith("data:"):
                continue  # blank separators, comments (": keep-alive"), event names
            data = line[5:].strip()
            if data == "[DONE]":
                return
            if data:
                yield json.loads(data)


def assemble(chunks: Iterator[dict[str, Any]], on_text: Callable[[int, str], None]) -> dict[str, Any]:
    """The ``chat.completion`` that ``chat.completion.chunk`` payloads add up to (choice 0), text handed to
    ``on_text`` with its offset as it arrives."""
    content: list[str] = []
    offset = 0
    calls: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    role = "assistant"
    refusal: str | None = None
    for chunk in chunks:
        if "error" in chunk and "choices" not in chunk:
            raise httpx.RemoteProtocolError(f"the model's stream ended with an error: {chunk['error']}")
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if key in chunk and key not in head:
                head[key] = chunk[key]
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            role = delta.get("role") or role
            if delta.get("refusal"):
                refusal = (refusal or "") + delta["refusal"]
            text = delta.get("content")
            if text:
                content.append(text)
                on_text(offset, text)
                offset += len(text)
            for part in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    int(part.get("index", 0)),
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = part.get("id") or call["id"]
                function = part.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    message: dict[str, Any] = {"role": role, "content": "".join(content) if content else None}
    if refusal is not None:
        message["refusal"] = refusal
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    completion: dict[str, Any] = {
        "id": head.get("id", ""),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop", "logprobs": None}],
    }
    for key in ("system_fingerprint", "service_tier"):
        if head.get(key) is not None:
            completion[key] = head[key]
    if usage is not None:
        completion["usage"] = usage
    return completion

"""An offline model that replays a script, behind the real OpenAI client (an ``httpx.MockTransport``).

Why a transport and not an AG2 ``ModelClient``: AG2 rebuilds the client of an agent with OnCondition handoffs
before every reply and drops ``register_model_client`` registrations; a transport inside ``llm_config``
survives that, and exercises the exact request bytes a real model would get.

Replies are keyed by agent and call index: the n-th model call of agent A gets ``script.replies[A][n]``.
Token usage is deterministic (derived from request and response sizes) and every request is recorded, so
tests can compare runs byte for byte. When the script has no reply for a call, ``ScriptExhausted`` names the
agent and the call; the engine reports it as an error event (it reaches the engine wrapped by the OpenAI
client, so look for it with ``find_script_error``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import BaseModel

from runtime_core.llm.meter import EXTENSION
from runtime_core.llm.provider import ModelProvider
from runtime_core.llm.script import Script, ScriptedReply
from runtime_core.llm.streaming import STREAM_OFF, STREAM_ON
from runtime_core.workflow.spec import TERMINATE_TARGET, USER_TARGET

SCRIPTED_KEY = "sk-scripted-offline-model-" + "0" * 32  # passes AG2's key-shape check, reaches no one


class ScriptExhausted(RuntimeError):
    def __init__(self, agent: str, call: int) -> None:
        super().__init__(
            f"the script has no reply for agent {agent!r}, call #{call + 1} "
            f"(add a reply under replies.{agent} in script.yaml)"
        )
        self.agent = agent
        self.call = call


class ScriptError(RuntimeError):
    """A scripted reply cannot be turned into a response (for example, a handoff the agent does not have)."""


class RecordedRequest(BaseModel):
    agent: str
    purpose: str
    call: int
    method: str
    url: str
    body: str
    # What the response reported (0 when the script had no reply).
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ScriptedModel(ModelProvider):
    """Replays ``script``; ``requests`` lists every request it received in this process, in order."""

    name = "scripted"
    max_retries = 0
    # The model name the responses report (and usage is priced by); None: the one the request asked for.
    reported_model: str | None = None

    def __init__(self, script: Script, *, chunk_chars: int = 4, pace: float = 0.0) -> None:
        """A request asking for a stream (``llm.streaming``) gets the reply's text in pieces of
        ``chunk_chars`` characters (about a token each), ``pace`` seconds apart (0 in tests; the bench sets a
        model-like rate)."""
        self.script = script
        self.requests: list[RecordedRequest] = []
        self.chunk_chars = max(1, chunk_chars)
        self.pace = pace

    def transport(self) -> httpx.BaseTransport:
        return httpx.MockTransport(self._handle)

    def reply_for(self, agent: str, call: int, payload: dict[str, Any]) -> ScriptedReply:
        """The reply to ``agent``'s call number ``call`` (``payload``: the request's JSON body)."""
        reply = self.script.reply(agent, call)
        if reply is None and self.script.fallback == "echo":
            from runtime_core.llm.echo import echo_reply  # echo builds on this module

            return echo_reply(agent, payload)
        if reply is None:
            raise ScriptExhausted(agent, call)
        return reply

    def api_key(self, key_env: str | None) -> str:
        return SCRIPTED_KEY

    def _handle(self, request: httpx.Request) -> httpx.Response:
        meta: dict[str, Any] = request.extensions.get(EXTENSION, {})
        agent, call = str(meta.get("agent", "unknown")), int(meta.get("call", 0))
        body = request.read().decode()
        self.requests.append(
            RecordedRequest(
                agent=agent,
                purpose=str(meta.get("purpose", "reply")),
                call=call,
                method=request.method,
                url=str(request.url),
                body=body,
            )
        )
        payload = json.loads(body) if body else {}
        reply = self.reply_for(agent, call, payload)
        # A prompt costs the same streamed or not: the stream request's extra fields are not prompt tokens.
        prompt_tokens = _tokens(body.replace(STREAM_ON.decode(), STREAM_OFF.decode()))
        message = _message(reply, payload, agent, call)
        completion_tokens = _tokens(json.dumps(message))
        self.requests[-1] = self.requests[-1].model_copy(
            update={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        )
        data = {
            "id": f"chatcmpl-scripted-{agent}-{call}",
            "object": "chat.completion",
            "created": 0,
            "model": self.reported_model or payload.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if payload.get("stream"):
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                content=self._stream(data, bool((payload.get("stream_options") or {}).get("include_usage"))),
            )
        if self.pace:
            # A paced model takes as long to answer whole as to stream: the bench compares the two.
            time.sleep(self.pace * -(-len(message.get("content") or "") // self.chunk_chars))
        return httpx.Response(200, json=data)

    def _stream(self, data: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
        """The completion as OpenAI streams it: role, text pieces, tool calls, the finish, then usage."""
        head = {key: data[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        choice = data["choices"][0]
        message = choice["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            body = head | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return b"data: " + json.dumps(body).encode() + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        text = message.get("content") or ""
        began = time.monotonic()
        for index, start in enumerate(range(0, len(text), self.chunk_chars)):
            if self.pace:  # on a schedule from the first piece: sleeps' overshoots do not add up
                time.sleep(max(0.0, began + (index + 1) * self.pace - time.monotonic()))
            yield chunk({"content": text[start : start + self.chunk_chars]})
        for index, call in enumerate(message.get("tool_calls") or []):
            yield chunk({"tool_calls": [{"index": index, **call}]})
        yield chunk({}, choice["finish_reason"])
        if include_usage:
            yield b"data: " + json.dumps(head | {"choices": [], "usage": data["usage"]}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"


def _tokens(text: str) -> int:
    # About four characters a token, like OpenAI's rule of thumb; only determinism matters.
    return max(1, (len(text) + 3) // 4)


def _message(reply: ScriptedReply, payload: dict[str, Any], agent: str, call: int) -> dict[str, Any]:
    if reply.output is not None:
        return {"role": "assistant", "content": json.dumps(reply.output)}
    calls: list[tuple[str, str]] = [(c.name, c.arguments_json()) for c in reply.tool_calls]
    if reply.handoff is not None:
        calls.append((_transfer_function(reply.handoff, payload, agent, call), "{}"))
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{agent}_{call}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for i, (name, arguments) in enumerate(calls)
        ]
    return message


def _transfer_function(target: str, payload: dict[str, Any], agent: str, call: int) -> str:
    """AG2 names an OnCondition's function ``transfer_to_<target>_<n>``: find it among the offered tools."""
    normalized = {USER_TARGET: "revert_to_user", TERMINATE_TARGET: "terminate"}.get(target, target)
    pattern = re.compile(rf"^transfer_to_{re.escape(normalized)}_\d+$")
    offered = [t.get("function", {}).get("name", "") for t in payload.get("tools", [])]
    for name in offered:
        if pattern.match(name):
            return name
    raise ScriptError(
        f"agent {agent!r} call #{call + 1}: the script hands off to {target!r} but the agent has no such "
        f"llm handoff (offered functions: {', '.join(offered) or 'none'})"
    )


def find_script_error(exc: BaseException) -> Exception | None:
    """The ScriptExhausted/ScriptError behind an exception the OpenAI client wrapped, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ScriptExhausted | ScriptError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

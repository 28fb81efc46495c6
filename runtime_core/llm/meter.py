"""The HTTP boundary of every model call in a step: who called, in what order, and what it cost.

AG2 agents talk to models through the real OpenAI client; the engine hands each of them the same
``httpx.Client`` built here. Its hooks see every call whatever the provider (scripted or real), which is
why usage is recorded here rather than from AG2's ``gather_usage_summary`` (that undercounts in group chats:
rebuilt clients lose earlier calls, speaker-selection calls are never counted).

Each agent's llm_config carries two private headers naming the agent and the call's purpose. The request
hook strips them (a real provider never sees them), stamps the call with the agent's call index (how many
successful calls the agent made before, persisted in the session so a fresh process continues the count),
and keeps both in ``request.extensions`` for the transport and the response hook.

The client AG2's OpenAI clients hold is a ``MeteredClient``: it lives as long as the agents do (a warm process
keeps built agents across steps, see ``engine.warm``) and relays each call to the ``CallMeter`` of the step
that currently uses it; the meter (transport, counts, hooks) is the step's own and dies with it.

Each successful call is handed to ``on_call`` the moment its response arrives, before AG2 even parses it:
the engine turns it into a ``UsageRecord`` for the caller's ledger, so a call that was paid for is on record
even if the step fails right after. Retries happen below, in the transport (``llm.retry``): never metered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel

from runtime_core.llm.spans import close_call, open_call

AGENT_HEADER = "x-mozaiks-agent"
PURPOSE_HEADER = "x-mozaiks-purpose"
EXTENSION = "mozaiks"


class MeteredCall(BaseModel):
    """One successful model call as seen on the wire."""

    agent: str
    purpose: str
    call: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float


class CallMeter:
    """One step's model calls: the transport they go through, who made them, and what they cost."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        call_counts: dict[str, int],
        timeout: float,
        on_call: Callable[[MeteredCall], None] | None = None,
        on_start: Callable[[str, str], None] | None = None,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.call_counts = dict(call_counts)
        self.calls: list[MeteredCall] = []
        self.on_call = on_call
        # Called with (agent, purpose) just before a call goes out: a ledger can note the call before its
        # response exists, so a process killed while the provider answers still leaves the call on record.
        self.on_start = on_start
        self._own_client: MeteredClient | None = None

    @property
    def http_client(self) -> MeteredClient:
        """A client bound to this meter for as long as it lives (AG2's reference loop and the bench use it;
        a step binds the client of the agents it leases instead)."""
        if self._own_client is None:
            self._own_client = MeteredClient(self.timeout)
            self._own_client.bind(self)
        return self._own_client

    def on_request(self, request: httpx.Request) -> None:
        agent = request.headers.pop(AGENT_HEADER, "unknown")
        purpose = request.headers.pop(PURPOSE_HEADER, "reply")
        # A retried request gets the same index: only a successful response advances the count.
        request.extensions[EXTENSION] = {
            "agent": agent,
            "purpose": purpose,
            "call": self.call_counts.get(agent, 0),
        }
        open_call(request, agent, purpose)
        if self.on_start is not None:
            self.on_start(agent, purpose)

    def on_response(self, response: httpx.Response) -> None:
        meta: dict[str, Any] = response.request.extensions.get(EXTENSION, {})
        if response.status_code != 200 or not meta:
            close_call(response.request, response, None)
            return
        response.read()
        try:
            body = json.loads(response.content)
        except ValueError:
            close_call(response.request, response, None)
            return
        close_call(response.request, response, body)
        usage = body.get("usage") or {}
        model = str(body.get("model", ""))
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        agent = meta["agent"]
        self.call_counts[agent] = meta["call"] + 1
        metered = MeteredCall(
            agent=agent,
            purpose=meta["purpose"],
            call=meta["call"],
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=price(model, prompt, completion),
        )
        self.calls.append(metered)
        if self.on_call is not None:
            self.on_call(metered)

    def close(self) -> None:
        if self._own_client is not None:
            self._own_client.release()
        self.transport.close()


class MeteredClient(httpx.Client):
    """The ``httpx.Client`` under AG2's OpenAI clients, relaying every call to the meter bound to it.

    Built with the agents and kept with them: binding it to the next step's meter is all a reused agent needs
    to send that step's calls through that step's transport, counts and hooks. A call while no meter is
    bound (between steps) fails rather than going anywhere.
    """

    # ``llm.fastpath`` skips the OpenAI SDK's request transform only for clients that carry this mark.
    skip_sdk_transform = True

    def __init__(self, timeout: float) -> None:
        self._meter: CallMeter | None = None
        super().__init__(
            transport=_Relay(self),
            timeout=timeout,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )

    @property
    def meter(self) -> CallMeter:
        if self._meter is None:
            raise RuntimeError("a model call outside a step: no meter is bound to this client")
        return self._meter

    def bind(self, meter: CallMeter) -> None:
        self._meter = meter

    def release(self) -> None:
        self._meter = None

    def _on_request(self, request: httpx.Request) -> None:
        self.meter.on_request(request)

    def _on_response(self, response: httpx.Response) -> None:
        self.meter.on_response(response)


class _Relay(httpx.BaseTransport):
    """The bound meter's transport, looked up per request; closing the client leaves the step's alone."""

    def __init__(self, client: MeteredClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._client.meter.transport.handle_request(request)
        except BaseException:
            close_call(request, None, None)  # the model call's span, if tracing: ended as failed
            raise

    def close(self) -> None:
        return None


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Cost in USD from the runtime's price table (``runtime_core.llm.prices``; 0 for a model it lacks)."""
    from runtime_core.llm.prices import cost

    return cost(model, prompt_tokens, completion_tokens)

"""The thin chat-completions call sends the bytes the OpenAI SDK sends, only for the engine's clients, and
AG2 builds clients without inspecting the SDK each time (``runtime_core.llm.fastpath``)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Required, TypedDict

import httpx
import pytest
from openai import OpenAI
from openai._utils import PropertyInfo
from openai.resources.chat.completions import completions as sdk

from runtime_core.engine.loading import load_engine
from runtime_core.llm import fastpath
from runtime_core.llm.meter import CallMeter, MeteredClient

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
HISTORY = [
    {"role": "system", "content": "You are A."},
    {"role": "user", "content": 'héllo ✓ "quoted" \n newline', "name": "_User"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "check", "arguments": '{"id": 1}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
    {"role": "assistant", "content": "Done.", "name": "A"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "check",
            "description": "Check an order.",
            "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        },
    }
]
REQUESTS: dict[str, dict[str, Any]] = {
    "minimal": {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"},
    # Given in another order than the SDK writes the body: the thin call must write the SDK's order.
    "everything": {
        "temperature": 0.2,
        "tools": TOOLS,
        "model": "gpt-4o",
        "messages": HISTORY,
        "tool_choice": "auto",
        "max_tokens": 50,
        "stop": ["STOP"],
        "seed": 7,
        "parallel_tool_calls": False,
        "user": "u-1",
        "top_p": 0.9,
        "n": 1,
        "stream": False,
    },
    "structured": {
        "messages": HISTORY[:2],
        "model": "gpt-4o-mini",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": {"type": "object", "properties": {}}, "strict": True},
        },
    },
    "options": {
        "messages": HISTORY[:2],
        "model": "gpt-4o-mini",
        "extra_body": {"vendor_option": 1},
        "extra_headers": {"X-Extra": "yes"},
        "timeout": 12.5,
    },
    # Not plain JSON (a tuple): the SDK's own path, which turns it into a list.
    "tuple": {"messages": tuple(HISTORY[:2]), "model": "gpt-4o-mini"},
}


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    load_engine()
    yield
    fastpath.set_thin(True)
    fastpath.set_memo(True)


def _send(kwargs: dict[str, Any], *, thin: bool, engine_client: bool = True) -> tuple[httpx.Request, int]:
    """The request one ``chat.completions.create`` sends, and how many SDK transforms it ran."""
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, json=COMPLETION)

    meter = CallMeter(httpx.MockTransport(endpoint), {}, timeout=60)
    http = meter.http_client if engine_client else httpx.Client(transport=httpx.MockTransport(endpoint))
    client = OpenAI(api_key="sk-" + "t" * 48, base_url="https://llm.example.test/v1", http_client=http)
    transforms = 0
    real = sdk.maybe_transform

    def counted(*args: Any, **kw: Any) -> Any:
        nonlocal transforms
        transforms += 1
        return real(*args, **kw)

    fastpath.set_thin(thin)
    sdk.maybe_transform = counted
    try:
        completion = client.chat.completions.create(**kwargs)
    finally:
        sdk.maybe_transform = real
        fastpath.set_thin(True)
        meter.close()
    assert completion.choices[0].message.content == "ok"  # the SDK's response type, parsed as usual
    return seen[0], transforms


def _wire(request: httpx.Request) -> tuple[str, str, list[tuple[str, str]], bytes]:
    return request.method, str(request.url), sorted(request.headers.items()), request.content


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_thin_call_sends_the_bytes_the_sdk_sends(name: str) -> None:
    kwargs = REQUESTS[name]
    thin, thin_transforms = _send(kwargs, thin=True)
    sdk_request, sdk_transforms = _send(kwargs, thin=False)

    assert _wire(thin) == _wire(sdk_request)
    assert sdk_transforms == 1
    assert thin_transforms == (1 if name == "tuple" else 0)


def test_other_openai_clients_keep_the_sdk_path() -> None:
    _, transforms = _send(REQUESTS["everything"], thin=True, engine_client=False)
    assert transforms == 1


def test_a_call_the_sdk_refuses_is_refused_the_same_way() -> None:
    with pytest.raises(TypeError):
        _send({**REQUESTS["minimal"], "not_a_parameter": 1}, thin=True)


class Dated(TypedDict, total=False):
    when: Annotated[str, PropertyInfo(format="iso8601")]


class Aliased(TypedDict, total=False):
    card_id: Required[Annotated[str, PropertyInfo(alias="cardID")]]


class Params(TypedDict, total=False):
    messages: Required[Iterable[Dated]]


def test_the_transform_is_known_to_be_the_identity_for_chat_completions() -> None:
    assert fastpath.transform_is_identity()
    # A format or an alias anywhere in the parameter types (a new SDK) turns the thin call off.
    assert not fastpath.transform_is_identity((Params,))
    assert not fastpath.transform_is_identity((Aliased,))


def test_building_a_client_inspects_the_sdk_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from autogen.oai.client import OpenAIWrapper

    calls = 0
    real = inspect.getfullargspec

    def counted(function: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(function)

    monkeypatch.setattr(inspect, "getfullargspec", counted)
    config = {"model": "gpt-4o-mini", "api_key": "sk-" + "t" * 48, "api_type": "openai"}
    fastpath.set_memo(False)
    recomputed = OpenAIWrapper(**config).openai_kwargs
    assert calls > 0
    fastpath.set_memo(True)
    calls = 0
    wrapper = OpenAIWrapper(**config)
    assert calls == 0 and wrapper.openai_kwargs == recomputed


def test_the_engines_client_refuses_calls_outside_a_step() -> None:
    client = MeteredClient(timeout=5)
    with pytest.raises(RuntimeError, match="outside a step"):
        client.get("https://llm.example.test/v1/models")

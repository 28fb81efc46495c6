"""Two measured costs of AG2's OpenAI client stack, removed without changing a byte on the wire.

1. The thin chat-completions call. ``openai``'s ``Completions.create`` runs every request through
   ``maybe_transform``, which walks the whole body (every message of the history) against the SDK's
   TypedDicts to apply key aliases and formats (dates, base64 files). For chat completions there are none
   (``transform_is_identity`` checks the SDK's parameter types once), so on plain JSON data the transform is
   the identity and costs 32% and more of a step at 1,000 messages. ``thin_create`` builds the same body the
   SDK builds (the SDK's parameter order, omitted parameters dropped) and posts it through the SDK's own
   ``_post``: same serialisation, headers, timeouts, response parsing (``ChatCompletion``, the shape AG2
   expects), error mapping. Retries are the engine's (``llm.retry``) either way.

   The seam is ``Completions.create``, patched once per process by ``install()``, but it acts only for
   clients whose ``httpx`` client carries ``skip_sdk_transform`` (``llm.meter.MeteredClient``, the engine's);
   any other OpenAI client in the process, and any call with data that is not plain JSON (a pydantic object,
   a generator) or arguments the SDK would reject, goes through the SDK's own ``create`` unchanged.

2. ``OpenAIWrapper.openai_kwargs``: AG2 recomputes it (``inspect.getfullargspec`` of two SDK constructors)
   for every key of every config, each time it builds a client: 60% of building a workflow's agents, and an
   agent with LLM handoffs rebuilds its client twice per handoff before every reply. The SDK's constructor
   signatures do not change while a process runs, so the value is computed once.

``set_thin(False)`` and ``set_memo(False)`` turn them off (the bench's "before" figures, and the tests that
compare both paths).
"""

from __future__ import annotations

import inspect
import threading
import typing
from collections.abc import Callable
from typing import Any

import typing_extensions

_LOCK = threading.Lock()
_installed = False
_thin = True
_memo = True
_sdk_create: Callable[..., Any] | None = None
# Keyword arguments of Completions.create that are not body fields.
_REQUEST_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")
# Body fields in the order the SDK writes them (its signature's order), filled by install().
_BODY_ORDER: tuple[str, ...] = ()
_JSON_SCALARS = (str, int, float, bool, type(None))


def install() -> None:
    """Patch the two seams (idempotent; ``engine.loading.load_engine`` calls it once per process)."""
    global _installed
    if _installed:
        return
    with _LOCK:
        if _installed:
            return
        _memoize_openai_kwargs()
        if transform_is_identity():
            _patch_create()
        _installed = True


def set_thin(enabled: bool) -> None:
    """Use the thin call (default) or the SDK's own ``create`` for the engine's clients."""
    global _thin
    _thin = enabled


def set_memo(enabled: bool) -> None:
    """Use the computed-once ``openai_kwargs`` (default) or AG2's own recomputation."""
    global _memo
    _memo = enabled


def thin_enabled() -> bool:
    return _thin and _sdk_create is not None


def transform_is_identity(roots: tuple[Any, ...] | None = None) -> bool:
    """True when no parameter type of a chat completion (however deep) carries an alias or a format: the
    only things the SDK's transform changes in plain JSON data. A new SDK that adds one turns the thin path
    off instead of sending different bytes."""
    from openai._utils import PropertyInfo
    from openai._utils._typing import is_annotated_type
    from openai.types.chat import completion_create_params as params

    seen: set[int] = set()
    default = (params.CompletionCreateParamsNonStreaming, params.CompletionCreateParamsStreaming)
    pending: list[Any] = list(roots or default)
    while pending:
        kind = pending.pop()
        if id(kind) in seen:
            continue
        seen.add(id(kind))
        if is_annotated_type(kind):
            for extra in typing.get_args(kind)[1:]:
                if isinstance(extra, PropertyInfo) and (extra.alias is not None or extra.format is not None):
                    return False
        pending.extend(typing.get_args(kind))
        if typing_extensions.is_typeddict(kind):
            pending.extend(typing.get_type_hints(kind, include_extras=True).values())
    return True


def thin_create(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``Completions.create`` without the request transform, for the engine's clients (see the module doc)."""
    assert _sdk_create is not None
    if not (_thin and not args and _engine_client(self) and _plain_call(kwargs)):
        return _sdk_create(self, *args, **kwargs)
    from openai._base_client import make_request_options
    from openai._streaming import Stream
    from openai.resources.chat.completions import completions as sdk
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    sdk.validate_response_format(kwargs.get("response_format", sdk.omit))
    body = {name: kwargs[name] for name in _BODY_ORDER if name in kwargs}
    return self._post(
        "/chat/completions",
        body=body,
        options=make_request_options(
            extra_headers=kwargs.get("extra_headers"),
            extra_query=kwargs.get("extra_query"),
            extra_body=kwargs.get("extra_body"),
            timeout=kwargs.get("timeout", sdk.not_given),
        ),
        cast_to=ChatCompletion,
        stream=kwargs.get("stream") or False,
        stream_cls=Stream[ChatCompletionChunk],
    )


def _patch_create() -> None:
    global _sdk_create, _BODY_ORDER
    from openai.resources.chat.completions.completions import Completions

    _sdk_create = Completions.create
    _BODY_ORDER = tuple(
        name
        for name, parameter in inspect.signature(_sdk_create).parameters.items()
        if parameter.kind == inspect.Parameter.KEYWORD_ONLY and name not in _REQUEST_OPTIONS
    )
    Completions.create = thin_create  # type: ignore[method-assign,assignment]


def _memoize_openai_kwargs() -> None:
    from autogen.oai.client import OpenAIWrapper

    computed = OpenAIWrapper.__dict__["openai_kwargs"]
    if not isinstance(computed, property) or computed.fget is None:
        return  # already a plain value (another AG2 version): nothing to save
    recompute = computed.fget
    value = frozenset(recompute(None))  # the getter ignores self: it inspects the SDK's classes

    def openai_kwargs(self: Any) -> frozenset[str]:
        return value if _memo else frozenset(recompute(self))

    OpenAIWrapper.openai_kwargs = property(openai_kwargs)  # type: ignore[method-assign,assignment]


def _engine_client(completions: Any) -> bool:
    http = getattr(getattr(completions, "_client", None), "_client", None)
    return bool(getattr(http, "skip_sdk_transform", False))


def _plain_call(kwargs: dict[str, Any]) -> bool:
    """Known parameters, the required ones present, every omitted one really omitted, body values plain
    JSON (dicts with string keys, lists, strings, numbers, booleans, None): the transform's identity."""
    from openai._types import NotGiven, Omit

    if "messages" not in kwargs or "model" not in kwargs:
        return False
    stack: list[Any] = []
    for name, value in kwargs.items():
        if name in _REQUEST_OPTIONS:
            continue
        if name not in _BODY_ORDER or isinstance(value, Omit | NotGiven):
            return False
        stack.append(value)
    while stack:
        value = stack.pop()
        if type(value) is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return False
                if type(item) is not str:
                    stack.append(item)
        elif type(value) is list:
            stack.extend(value)
        elif not isinstance(value, _JSON_SCALARS):
            return False
    return True

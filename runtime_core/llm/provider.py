"""Model providers: where a step's model calls go.

Both providers drive AG2's own OpenAI client (chat completions through ``llm.fastpath``'s thin call, the SDK's
bytes without its per-request transform); they differ only in the HTTP transport under it, so the request a
scripted run records is byte for byte the request a real model would receive.

- ``OpenAIModel``: a real OpenAI (or OpenAI-compatible ``base_url``) endpoint. The key is read from the
  environment variable the workflow names (``llm_config.api_key_env``, default ``OPENAI_API_KEY``).

Retries: ``max_retries`` is the provider's, but the OpenAI client is always built with ``max_retries=0``; the
engine retries below it, in ``llm.retry.RetryTransport``, which knows the step's deadline (the SDK's loop
would sleep and retry past it).
- ``ScriptedModel`` (``runtime_core.llm.scripted``): replays a script offline.

Providers hold no session state: build one per process or per step and pass it to ``run_step``. The real
provider's connection pool is shared by the whole process; a ``ScriptedModel`` records every request it
serves, so a long-lived process should build one per step.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import Any

import httpx

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_TIMEOUT = 60.0


class ModelConfigError(RuntimeError):
    """The provider cannot serve a model call as configured (for example: the API key is missing)."""


class ModelProvider(ABC):
    """Where model calls go. ``transport()`` is the HTTP transport under the OpenAI client."""

    name: str = "provider"
    # Retries after the first attempt of each model call (see ``llm.retry``).
    max_retries: int = 0

    @abstractmethod
    def transport(self) -> httpx.BaseTransport: ...

    @abstractmethod
    def api_key(self, key_env: str | None) -> str: ...

    def base_url(self, configured: str | None) -> str | None:
        return configured

    def client_options(
        self, key_env: str | None, base_url: str | None, timeout: float | None
    ) -> dict[str, Any]:
        """The OpenAI client settings that go into an agent's llm_config entry."""
        options: dict[str, Any] = {
            "api_key": self.api_key(key_env),
            # Retries belong to the engine's deadline-aware transport (``llm.retry``), never to the SDK.
            "max_retries": 0,
            "timeout": timeout or DEFAULT_TIMEOUT,
        }
        url = self.base_url(base_url)
        if url:
            options["base_url"] = url
        return options


class OpenAIModel(ModelProvider):
    """A real OpenAI-compatible endpoint."""

    name = "openai"

    def __init__(self, max_retries: int = 4, environ: dict[str, str] | None = None) -> None:
        self.max_retries = max_retries
        self._environ = environ if environ is not None else os.environ
        self._pool: httpx.BaseTransport | None = None

    def transport(self) -> httpx.BaseTransport:
        return _Shared(self._pool or _process_pool())

    def api_key(self, key_env: str | None) -> str:
        env = key_env or DEFAULT_KEY_ENV
        key = self._environ.get(env)
        if not key:
            raise ModelConfigError(f"the environment variable {env} holding the model's API key is not set")
        return key

    def has_key(self, key_env: str | None = None) -> bool:
        return bool(self._environ.get(key_env or DEFAULT_KEY_ENV))


_POOL: httpx.HTTPTransport | None = None
_POOL_LOCK = threading.Lock()


def _process_pool() -> httpx.HTTPTransport:
    """One connection pool per process, whoever builds providers: a warm Lambda reuses its TLS connections."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = httpx.HTTPTransport()
        return _POOL


class _Shared(httpx.BaseTransport):
    """The provider's pool, lent to one step's client: closing the client must not close the pool."""

    def __init__(self, pool: httpx.BaseTransport) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool.handle_request(request)

    def close(self) -> None:
        return None

"""The handlers the local server calls: the same ``runtime_core`` routes and step worker that Lambda's
``functions/`` modules wrap, so a local run exercises the code that ships.

They are imported on first use, not when the server is built: the worker imports AG2 (seconds), and a
server that only refuses a bad token should not pay for it. Tests and tools pass their own callables.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

# handler(event, context) -> response, exactly as Lambda calls it.
Handler = Callable[[dict[str, Any], Any], Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class LazyHandler:
    """``runtime_core.<module>.<attribute>``, imported on the first call (thread-safe: handlers run in
    threads)."""

    def __init__(self, module: str, attribute: str) -> None:
        self.module = module
        self.attribute = attribute
        self._target: Handler | None = None
        self._lock = threading.Lock()

    def resolve(self) -> Handler:
        with self._lock:
            if self._target is None:
                self._target = getattr(importlib.import_module(f"runtime_core.{self.module}"), self.attribute)
            return self._target

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        return self.resolve()(event, context)


class LazyAsgiApp:
    """``runtime_core.http_api.app`` (the FastAPI app Mangum wraps in AWS), imported on the first request."""

    def __init__(self, module: str = "http_api", attribute: str = "app") -> None:
        self._handler = LazyHandler(module, attribute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: Any = self._handler.resolve()
        await app(scope, receive, send)


@dataclass(frozen=True)
class Handlers:
    connect: Handler = field(default_factory=lambda: LazyHandler("routes.connect", "on_connect"))
    default: Handler = field(default_factory=lambda: LazyHandler("routes.frames", "on_frame"))
    disconnect: Handler = field(default_factory=lambda: LazyHandler("routes.disconnect", "on_disconnect"))
    worker: Handler = field(default_factory=lambda: LazyHandler("worker.sqs_batch", "on_sqs_batch"))
    http_app: AsgiApp | None = field(default_factory=LazyAsgiApp)

    def preload(self) -> None:
        """Import the lazy handlers now (at start, in the background), so the first step is not slow."""
        for handler in (self.connect, self.default, self.disconnect, self.worker):
            if isinstance(handler, LazyHandler):
                handler.resolve()
        if isinstance(self.worker, LazyHandler):
            # The worker imports AG2 on its first step: import it now, while nothing waits for it.
            from runtime_core.engine.loading import load_engine

            load_engine()

"""The Lambda handlers the local server calls: by default the very modules in ``functions/``.

They are imported on first use, not when the server is built: the worker imports AG2 (seconds), and a
server that only refuses a bad token should not pay for it. Tests and tools pass their own callables.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# handler(event, context) -> response, exactly as Lambda calls it.
Handler = Callable[[dict[str, Any], Any], Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FUNCTIONS_PACKAGE = "functions"


class HandlersUnavailable(RuntimeError):
    """``functions/`` cannot be imported (an installed wheel ships ``runtime_core`` only)."""


def _import_functions_module(name: str) -> Any:
    # functions/ sits next to runtime_core/ in a checkout (and in the Lambda bundle), outside the installed
    # package: make the checkout importable whatever the working directory is.
    root = Path(__file__).resolve().parents[2]
    if (root / FUNCTIONS_PACKAGE).is_dir() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"{FUNCTIONS_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (FUNCTIONS_PACKAGE, f"{FUNCTIONS_PACKAGE}.{name}"):
            raise HandlersUnavailable(
                f"cannot import {FUNCTIONS_PACKAGE}/{name}.py: run `mozaiks serve` from a checkout of the "
                "runtime (it serves the same handlers as Lambda)"
            ) from exc
        raise


class LazyHandler:
    """``functions.<module>.handler``, imported on the first call (thread-safe: handlers run in threads)."""

    def __init__(self, module: str, attribute: str = "handler") -> None:
        self.module = module
        self.attribute = attribute
        self._target: Handler | None = None
        self._lock = threading.Lock()

    def resolve(self) -> Handler:
        with self._lock:
            if self._target is None:
                self._target = getattr(_import_functions_module(self.module), self.attribute)
            return self._target

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        return self.resolve()(event, context)


class LazyAsgiApp:
    """``functions.http_api.app`` (the FastAPI app Mangum wraps in AWS), imported on the first request."""

    def __init__(self, module: str = "http_api", attribute: str = "app") -> None:
        self._handler = LazyHandler(module, attribute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: Any = self._handler.resolve()
        await app(scope, receive, send)


@dataclass(frozen=True)
class Handlers:
    connect: Handler = field(default_factory=lambda: LazyHandler("connect"))
    default: Handler = field(default_factory=lambda: LazyHandler("default"))
    disconnect: Handler = field(default_factory=lambda: LazyHandler("disconnect"))
    worker: Handler = field(default_factory=lambda: LazyHandler("worker"))
    http_app: AsgiApp | None = field(default_factory=LazyAsgiApp)

    def preload(self) -> None:
        """Import the lazy handlers now (at start, in the background), so the first step is not slow."""
        for handler in (self.connect, self.default, self.disconnect, self.worker):
            if isinstance(handler, LazyHandler):
                handler.resolve()

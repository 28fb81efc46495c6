"""Importing AG2 once per process, one thread at a time.

AG2 is imported when the first step runs, not when a handler module is imported (route handlers never pay
for it). In ``mozaiks serve`` several sessions' first steps start together on different threads, and each
imports AG2 and the workflows' tool modules (which import AG2 too): Python's per-module import locks then
detect a deadlock between the threads and one of the imports fails. Importing everything the engine needs
here, under one lock, before any workflow is compiled, makes the first steps wait for each other instead.
The OpenAI client stack's fast paths (``llm.fastpath``) are installed here too, under the same lock.
"""

from __future__ import annotations

import importlib
import threading

_LOCK = threading.Lock()
_loaded = False

# What a step imports lazily; tool modules usually import from autogen.agentchat.group.
ENGINE_MODULES = (
    "autogen",
    "autogen.io.base",
    "autogen.agentchat.group",
    "autogen.agentchat.groupchat",
    "autogen.oai.openai_utils",
    "runtime_core.engine.group",
    "runtime_core.engine.compiler",
)


def load_engine() -> None:
    """Import AG2 and the engine's modules (a no-op after the first call in a process)."""
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if _loaded:
            return
        for name in ENGINE_MODULES:
            importlib.import_module(name)
        # Done here, once, before any step builds a client (see runtime_core.llm.fastpath).
        from runtime_core.llm import fastpath

        fastpath.install()
        _loaded = True

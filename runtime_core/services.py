"""What the handlers in ``functions/`` run against: the store, the step queue and the poster.

In Lambda they are built from environment variables once per container, on first use (each handler touches
only what it needs, so ``$disconnect`` never builds a queue client). The local server and tests install their
own: the same handlers then run on an embedded store, an in-process queue and open sockets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime_core.queue import StepQueue
    from runtime_core.store.protocol import SessionStore
    from runtime_core.transport.poster import Poster
    from runtime_core.workflow import Workflow

# Endpoint URL of the Management API (https://{domain}/{stage}) -> a poster for connections behind it.
PosterFactory = Callable[[str], "Poster"]


def _default_store() -> SessionStore:
    from runtime_core.store.factory import store_from_env

    return store_from_env()


def _default_queue() -> StepQueue:
    from runtime_core.queue.sqs import SqsStepQueue

    url = os.environ.get("MOZAIKS_STEP_QUEUE_URL", "").strip()
    if not url:
        raise RuntimeError("MOZAIKS_STEP_QUEUE_URL is required: the SQS FIFO queue that carries steps")
    return SqsStepQueue(url)


def _default_poster_factory() -> PosterFactory:
    from runtime_core.transport.management_api import ManagementApiPoster

    posters: dict[str, Poster] = {}

    def poster_for(endpoint: str) -> Poster:
        if endpoint not in posters:
            posters[endpoint] = ManagementApiPoster(endpoint)
        return posters[endpoint]

    return poster_for


def _default_workflows_dir() -> Path:
    return Path(os.environ.get("MOZAIKS_WORKFLOWS_DIR", "workflows"))


@dataclass
class Services:
    """Lazily built collaborators; pass any of them to replace the AWS default."""

    store_factory: Callable[[], SessionStore] = _default_store
    queue_factory: Callable[[], StepQueue] = _default_queue
    poster_factory_factory: Callable[[], PosterFactory] = _default_poster_factory
    workflows_dir: Path = field(default_factory=_default_workflows_dir)
    _workflows: dict[str, tuple[tuple[float, ...], Workflow]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def store(self) -> SessionStore:
        return self.store_factory()

    @cached_property
    def queue(self) -> StepQueue:
        return self.queue_factory()

    @cached_property
    def poster_for(self) -> PosterFactory:
        return self.poster_factory_factory()

    def workflow(self, name: str) -> Workflow:
        """Load (once per content change) the workflow named ``name`` under ``workflows_dir``.

        Raises ``KeyError`` for a name that is not a workflow folder and ``WorkflowValidationError`` for a
        broken one.
        """
        from runtime_core.workflow import load_workflow

        root = self.workflows_dir / name
        # Only a plain folder name: a frame must never point the loader outside the workflows directory.
        if not name or "/" in name or "\\" in name or name.startswith(".") or not root.is_dir():
            raise KeyError(name)
        stamp = tuple(p.stat().st_mtime for p in sorted(root.rglob("*")) if p.is_file())
        with self._lock:
            cached = self._workflows.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        workflow = load_workflow(root)
        with self._lock:
            self._workflows[name] = (stamp, workflow)
        return workflow

    def workflow_names(self) -> list[str]:
        if not self.workflows_dir.is_dir():
            return []
        return sorted(p.name for p in self.workflows_dir.iterdir() if (p / "orchestrator.yaml").is_file())


_current: Services | None = None
_current_lock = threading.Lock()


def get_services() -> Services:
    global _current
    with _current_lock:
        if _current is None:
            _current = Services()
        return _current


def install_services(services: Services | None) -> None:
    """Replace the process-wide services (the local server, tests); ``None`` goes back to the defaults."""
    global _current
    with _current_lock:
        _current = services

"""What the handlers run against: the settings, the store, the step queue and the posters.

``Services()`` with no arguments is the production wiring: every collaborator is built, on first use,
from the validated settings (``RuntimeSettings``: secrets resolved from their ARNs, one ``ConfigError``
naming every bad variable). Nothing here ever starts an embedded database: that is the local server's
choice, which installs its own services (an embedded store, an in-process queue, open sockets), as tests do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from runtime_core.config import RuntimeSettings

if TYPE_CHECKING:
    from runtime_core.auth import TokenVerifier
    from runtime_core.queue import StepQueue
    from runtime_core.store.protocol import SessionStore
    from runtime_core.transport.poster import Poster
    from runtime_core.workflow import Workflow

# Endpoint URL of the Management API (https://{domain}/{stage}) -> a poster for connections behind it.
PosterFactory = Callable[[str], "Poster"]


def production_store(settings: RuntimeSettings) -> SessionStore:
    """The MongoDB adapter on ``MONGODB_URI`` (or what its ARN holds); indexes ensured once per database."""
    from runtime_core.store.mongo import MongoSessionStore, StoreSettings, connect

    store_settings = settings.store
    store = MongoSessionStore(
        connect(store_settings.mongodb_uri.get_secret_value()),
        StoreSettings(
            db_name=store_settings.db_name, recovery_grace_seconds=store_settings.recovery_grace_seconds
        ),
    )
    store.ensure_indexes_if_needed()
    return store


def production_queue(settings: RuntimeSettings) -> StepQueue:
    from runtime_core.queue.sqs import SqsStepQueue

    return SqsStepQueue(settings.queue.step_queue_url)


def production_posters(settings: RuntimeSettings) -> PosterFactory:
    from runtime_core.transport.management_api import ManagementApiPoster

    posters: dict[str, Poster] = {}
    max_post_bytes = settings.frames.max_post_bytes

    def poster_for(endpoint: str) -> Poster:
        if endpoint not in posters:
            posters[endpoint] = ManagementApiPoster(endpoint, max_post_bytes=max_post_bytes)
        return posters[endpoint]

    return poster_for


@dataclass
class Services:
    """Lazily built collaborators; pass any of them to replace the production one."""

    store_factory: Callable[[], SessionStore] | None = None
    queue_factory: Callable[[], StepQueue] | None = None
    poster_factory_factory: Callable[[], PosterFactory] | None = None
    workflows_dir: Path | None = None
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    _workflows: dict[str, tuple[tuple[float, ...], Workflow]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def store(self) -> SessionStore:
        return self.store_factory() if self.store_factory else production_store(self.settings)

    @cached_property
    def queue(self) -> StepQueue:
        return self.queue_factory() if self.queue_factory else production_queue(self.settings)

    @cached_property
    def poster_for(self) -> PosterFactory:
        if self.poster_factory_factory:
            return self.poster_factory_factory()
        return production_posters(self.settings)

    @cached_property
    def verifier(self) -> TokenVerifier:
        # Built once per container: it holds the parsed key or the JWKS cache.
        from runtime_core.auth import TokenVerifier

        return TokenVerifier(self.settings.jwt)

    @cached_property
    def workflows_root(self) -> Path:
        if self.workflows_dir is not None:
            return self.workflows_dir
        return Path(self.settings.workflows.workflows_dir)

    def workflow(self, name: str) -> Workflow:
        """Load (once per content change) the workflow named ``name`` under the workflows directory.

        Raises ``KeyError`` for a name that is not a workflow folder and ``WorkflowValidationError`` for a
        broken one.
        """
        from runtime_core.workflow import load_workflow

        root = self.workflows_root / name
        # Only a plain folder name: a frame must never point the loader outside the workflows directory.
        # ``_shared`` holds modules the workflows' tools share (workflow.tool_source.SHARED_DIR): not a
        # workflow (named here, not imported: the route handlers' cold start does not load the validator).
        if not name or "/" in name or "\\" in name or name.startswith(".") or not root.is_dir():
            raise KeyError(name)
        if name == "_shared":
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
        root = self.workflows_root
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "orchestrator.yaml").is_file())


_current: Services | None = None
_current_lock = threading.Lock()


def get_services() -> Services:
    """The process's services: the installed ones, or the production wiring built on first call."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Services()
        return _current


def install_services(services: Services | None) -> None:
    """Replace the process-wide services (the local server, tests); ``None`` goes back to production."""
    global _current
    with _current_lock:
        _current = services

"""The embedded MongoDB for local runs and tests: a mongoeco wire server in a background thread.

Real pymongo talks to it over TCP, so the code under test is the production adapter. ``store_from_env`` picks
``MONGODB_URI`` when set and this server (SQLite file under ``.mozaiks/``) otherwise: for local runs only.
Lambda never imports this module (mongoeco is not in the Lambda layer); its store is built by
``runtime_core.services.production_store`` from the validated configuration.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

from runtime_core.store.local_sqlite import sqlite_engine_class
from runtime_core.store.mongo import MongoSessionStore, StoreSettings, connect

DEFAULT_SQLITE_PATH = Path(".mozaiks") / "store.sqlite3"


def _engine(kind: Literal["memory", "sqlite"], path: Path | None) -> Any:
    if kind == "sqlite":
        target = path or DEFAULT_SQLITE_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        return sqlite_engine_class()(str(target))

    # Imported here: mongoeco is a local-only dependency (the "local" extra), never needed on Lambda.
    from mongoeco.core.identity import id_contains_numeric_value
    from mongoeco.engines.memory import MemoryEngine

    class IdIndexedMemoryEngine(MemoryEngine):
        """mongoeco 4.11's wire server inserts one document at a time, which makes the memory engine scan the
        whole collection for a numerically-equal ``_id`` on every insert (quadratic: minutes for a
        10,000-message session). Our ``_id``s are strings, for which its hash lookup is exact: skip the scan
        for them."""

        def _ensure_unique_indexes(self, db_name: str, coll_name: str, candidate: Any, **kwargs: Any) -> None:
            if kwargs.get("scan_payload_id") and not id_contains_numeric_value(candidate.get("_id")):
                kwargs["scan_payload_id"] = False
            super()._ensure_unique_indexes(db_name, coll_name, candidate, **kwargs)

    return IdIndexedMemoryEngine()


class EmbeddedServer:
    """A running mongoeco wire server; ``uri`` for pymongo, ``stop()`` to shut it down. ``engine`` is its
    storage engine (tests look at what it does)."""

    def __init__(
        self,
        server: Any,
        uri: str,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        engine: Any = None,
    ) -> None:
        self._server = server
        self.uri = uri
        self.engine = engine
        self._loop = loop
        self._thread = thread

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        close = asyncio.run_coroutine_threadsafe(self._server.close(), self._loop)
        close.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def start_embedded(
    engine: Literal["memory", "sqlite"] = "memory",
    *,
    path: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> EmbeddedServer:
    """Start a wire server in its own thread and event loop; port 0 picks a free port."""
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    loop = asyncio.new_event_loop()
    started: Future[tuple[Any, str]] = Future()
    storage = _engine(engine, path)

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> tuple[Any, str]:
            server = AsyncMongoEcoProxyServer(engine=storage, host=host, port=port)
            address = await server.start()
            return server, address.uri

        try:
            started.set_result(loop.run_until_complete(start()))
        except BaseException as error:
            started.set_exception(error)
            return
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name=f"mongoeco-{engine}", daemon=True)
    thread.start()
    server, uri = started.result(timeout=60)
    return EmbeddedServer(server, uri, loop, thread, storage)


def store_from_env(
    env: Mapping[str, str] | None = None,
    *,
    settings: StoreSettings | None = None,
    ensure_indexes: bool = True,
) -> MongoSessionStore:
    """``MONGODB_URI`` (+ ``MOZAIKS_DB_NAME``, default ``mozaiks``, and ``MOZAIKS_RECOVERY_GRACE_SECONDS``),
    or an embedded SQLite-backed server.

    ``MOZAIKS_STORE_PATH`` moves the embedded database file (default ``.mozaiks/store.sqlite3``). Closing the
    store stops the embedded server it started.
    """
    from runtime_core.config import StoreSettings as ConfiguredStore

    env = os.environ if env is None else env
    settings = settings or StoreSettings()
    update: dict[str, object] = {"db_name": env.get("MOZAIKS_DB_NAME", settings.db_name)}
    if env.get("MOZAIKS_RECOVERY_GRACE_SECONDS", "").strip():
        # Validated as in AWS (a bad value names the variable); the URI is not needed for that.
        grace = ConfiguredStore.from_env({**env, "MONGODB_URI": "mongodb://validated"}).recovery_grace_seconds
        update["recovery_grace_seconds"] = grace
    settings = settings.model_copy(update=update)
    uri = env.get("MONGODB_URI")
    if uri:
        store = MongoSessionStore(connect(uri), settings)
    else:
        path = Path(env.get("MOZAIKS_STORE_PATH", str(DEFAULT_SQLITE_PATH)))
        server = start_embedded("sqlite", path=path)
        store = MongoSessionStore(connect(server.uri), settings, on_close=server.stop)
    if ensure_indexes:
        store.ensure_indexes()
    return store

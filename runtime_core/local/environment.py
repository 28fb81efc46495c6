"""The embedded defaults of a local run, each replaceable by the setting AWS uses, and the banner naming them.

* store: MongoDB at ``MONGODB_URI`` if set, else an embedded MongoDB wire server (mongoeco) on a SQLite file
  under the data directory;
* model: a real OpenAI-compatible model when a workflow's API key variable is set, else its ``script.yaml``,
  else the offline echo model (``MOZAIKS_OFFLINE_MODEL=echo``, set by the launcher);
* auth: the ``MOZAIKS_JWT_*`` settings when any is set (verified exactly as in AWS), else a development HS256
  secret under the data directory and a ready-made token.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from runtime_core.local.credentials import DevCredentials, dev_credentials, jwt_configured

DEFAULT_KEY_VARIABLE = "OPENAI_API_KEY"


def choose_auth(data_dir: Path, env: MutableMapping[str, str]) -> tuple[str, DevCredentials | None]:
    """Raises ``ConfigError`` for contradictory JWT settings: at start, not at the first connection."""
    if jwt_configured(dict(env)):
        from runtime_core.config import JwtSettings

        JwtSettings.from_env(env)
        names = sorted(n for n, v in env.items() if n.startswith("MOZAIKS_JWT_") and v.strip())
        return f"JWT verified as in AWS ({', '.join(names)})", None
    credentials = dev_credentials(data_dir)
    # The connect handler reads the same variable in AWS: the dev secret goes through the real code path.
    env["MOZAIKS_JWT_SECRET"] = credentials.secret
    return (
        f"development HS256 secret in {data_dir / 'dev-secret'} (no MOZAIKS_JWT_* set; local use only)",
        credentials,
    )


def describe_model(
    key_variables: set[str], env: MutableMapping[str, str], unscripted: list[str] | None = None
) -> str:
    """``unscripted``: the workflows without a script.yaml, named when they fall back to the echo model."""
    asked = env.get("MOZAIKS_MODEL", "").strip().lower()
    if asked == "scripted":
        return "scripted: each workflow's script.yaml, offline (MOZAIKS_MODEL=scripted)"
    if asked == "echo":
        return (
            "echo: offline placeholder replies and valid structured outputs for every workflow "
            "(MOZAIKS_MODEL=echo)"
        )
    fallback = ""
    if env.get("MOZAIKS_OFFLINE_MODEL", "").strip().lower() == "echo":
        which = f": {', '.join(unscripted)}" if unscripted else ""
        fallback = f"; the echo model (offline) for a workflow without one{which}"
    configured = sorted(v for v in key_variables if env.get(v, "").strip())
    if configured:
        base = env.get("OPENAI_BASE_URL", "").strip()
        where = f" at {base}" if base else ""
        return f"real model{where} (API key from {', '.join(configured)})"
    wanted = ", ".join(sorted(key_variables)) or DEFAULT_KEY_VARIABLE
    return f"scripted: each workflow's script.yaml, offline{fallback} (set {wanted} for a real model)"


STORE_FILE = "store.sqlite3"


class SerializedStore:
    """Runs one store call at a time, for mongoeco (4.11) and its transactions: the SQLite engine refuses
    every operation, reads included, from other sessions while a transaction is open ("active transaction
    bound to another session"), and concurrent transactions on the memory engine lose writes (leases
    "lost before commit"). A step's commit is a transaction, so without this a frame arriving during a
    commit fails. Every transaction lives inside one store call, so a lock around the calls is enough.
    Real MongoDB does not need it (``MONGODB_URI`` bypasses it)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return target(*args, **kwargs)

        return call


class LocalStore:
    """The store the handlers share, built once at start (``Services.store`` is built lazily, and two
    handler threads racing to build it would start two servers on one SQLite file)."""

    def __init__(self, store: Any, description: str, embedded: Any = None) -> None:
        self.store = store
        self.description = description
        self._embedded = embedded

    def close(self) -> None:
        try:
            if self.store is not None:
                self.store.close()
        finally:
            if self._embedded is not None:
                self._embedded.stop()
                self._embedded = None


def open_store(data_dir: Path, env: MutableMapping[str, str], engine: str = "sqlite") -> LocalStore:
    """MongoDB at ``MONGODB_URI`` when set, else an embedded wire server: on ``DATA_DIR/store.sqlite3``
    (sessions survive restarts) or in memory (``engine="memory"``: faster, gone at exit)."""
    from runtime_core.store.embedded import start_embedded, store_from_env

    if env.get("MONGODB_URI", "").strip():
        return LocalStore(store_from_env(env), "MongoDB at MONGODB_URI")
    path = data_dir / STORE_FILE
    embedded = start_embedded("sqlite" if engine == "sqlite" else "memory", path=path)
    # Handlers that read StoreSettings themselves find the embedded server through the same variable.
    env["MONGODB_URI"] = embedded.uri
    try:
        store = store_from_env(env)
    except Exception:
        embedded.stop()
        raise
    where = f"on {path}" if engine == "sqlite" else "in memory"
    text = f"embedded MongoDB (mongoeco) {where}, at {embedded.uri}"
    return LocalStore(SerializedStore(store), text, embedded)

"""Start the local server: wire the services the handlers run against, print the banner, serve until stopped.

Wiring (the local counterparts of the AWS pieces):

* store: ``open_store`` (MONGODB_URI, or an embedded server on a SQLite file), built once at start;
* step queue: ``LocalStepQueue`` whose ``process`` is ``StepDelivery``: every step reaches the worker handler
  as an SQS FIFO event, one at a time per session;
* poster: ``InMemoryPoster`` whose ``send`` writes to the open socket (``ConnectionRegistry``), with the same
  framing (batches, chunks, 128 KB) as the Management API poster.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from runtime_core.config import ConfigError
from runtime_core.local.connections import ConnectionRegistry
from runtime_core.local.credentials import DEV_APP_ID, DEV_TOKEN_DAYS, DEV_USER_ID, DevCredentials
from runtime_core.local.delivery import StepDelivery
from runtime_core.local.environment import LocalStore, choose_auth, describe_model, open_store
from runtime_core.local.handlers import Handlers
from runtime_core.local.server import API_PREFIX, WS_PATH, create_app

log = logging.getLogger("mozaiks.local")

# API Gateway refuses client messages over 128 KB; the handler itself enforces the 32 KB frame limit.
MAX_CLIENT_MESSAGE_BYTES = 128 * 1024


class ServeOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workflows_dir: Path = Path("workflows")
    data_dir: Path = Path(".mozaiks")
    # Steps of different sessions run in parallel on this many threads (Lambda would scale out).
    step_workers: int = Field(default=8, ge=1, le=256)
    # The embedded store's engine when MONGODB_URI is unset: a SQLite file under data_dir, or memory.
    store: Literal["sqlite", "memory"] = "sqlite"
    # The server's and the handlers' (Powertools) log level.
    log_level: Literal["debug", "info", "warning", "error"] = "warning"


def _bind(host: str, port: int) -> socket.socket:
    # Bound before uvicorn starts so that --port 0 works and the banner can print the real port.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _workflow_keys(workflows_dir: Path, names: list[str]) -> set[str]:
    from runtime_core.workflow import load_workflow

    keys: set[str] = set()
    for name in names:
        try:
            keys.add(
                load_workflow(workflows_dir / name).orchestrator.llm_config.api_key_env or "OPENAI_API_KEY"
            )
        except Exception:  # a broken workflow is reported when it is started, with the loader's message
            continue
    return keys


class _HandshakeNoise(logging.Filter):
    """uvicorn 0.54's websockets-sansio protocol logs "ASGI callable returned without completing handshake"
    after a denial response it did send (it never marks that handshake complete): every refused token would
    print a false error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing handshake" not in record.getMessage()


def serve(
    options: ServeOptions,
    handlers: Handlers | None = None,
    out: TextIO | None = None,
    store: LocalStore | None = None,
) -> int:
    """Serve until interrupted. ``handlers`` and ``store`` replace the defaults (functions/, open_store)."""
    import uvicorn

    from runtime_core.queue.local import LocalStepQueue
    from runtime_core.services import Services, install_services
    from runtime_core.transport.memory import InMemoryPoster

    out = out or sys.stdout
    env = os.environ
    handlers = handlers or Handlers()
    workflows_dir = options.workflows_dir.resolve()
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not workflows_dir.is_dir():
        print(f"error: no workflows directory {workflows_dir}", file=out)
        return 2

    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    env["MOZAIKS_WORKFLOWS_DIR"] = str(workflows_dir)
    # The worker is told the Management API endpoint in AWS; locally the poster ignores it.
    env.setdefault("MOZAIKS_WS_CALLBACK_URL", f"http://localhost:{port}/local")
    # Step metrics stay on: one EMF line per step, as CloudWatch would receive it (POWERTOOLS_METRICS_DISABLED
    # =true silences them).
    env.setdefault("POWERTOOLS_LOG_LEVEL", options.log_level.upper())

    local_store: LocalStore | None = None
    try:
        try:
            auth, credentials = choose_auth(data_dir, env)
        except ConfigError as exc:
            print(f"error: {exc}", file=out)
            return 2
        local_store = store or open_store(data_dir, env, options.store)
        registry = ConnectionRegistry()
        from runtime_core.config import FrameSettings

        poster = InMemoryPoster(send=registry.send, max_post_bytes=FrameSettings.from_env().max_post_bytes)
        queue = LocalStepQueue(StepDelivery(handlers.worker), workers=options.step_workers)
        shared = local_store.store
        services = Services(
            store_factory=lambda: shared,
            queue_factory=lambda: queue,
            poster_factory_factory=lambda: lambda endpoint: poster,
            workflows_dir=workflows_dir,
        )
        install_services(services)
        names = services.workflow_names()
        model = describe_model(_workflow_keys(workflows_dir, names), env)
        app = create_app(handlers, registry)

        _banner(
            out, options.host, port, workflows_dir, names, local_store.description, model, auth, credentials
        )
        # Importing the worker pulls in AG2 (seconds): do it now, in the background, not in the first step.
        threading.Thread(target=_preload, args=(handlers,), daemon=True, name="mozaiks-preload").start()

        config = uvicorn.Config(
            app,
            ws="websockets-sansio",
            ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
            log_level=options.log_level,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_HandshakeNoise())
        server.run(sockets=[sock])
        queue.join(timeout=5)
        queue.close()
        app.state.gateway.close()
    finally:
        install_services(None)
        if local_store is not None:
            local_store.close()
        sock.close()
    return 0


def _preload(handlers: Handlers) -> None:
    try:
        handlers.preload()
    except Exception as exc:
        log.warning("could not preload the handlers (they load on first use): %s", exc)


def _banner(
    out: TextIO,
    host: str,
    port: int,
    workflows_dir: Path,
    names: list[str],
    store: str,
    model: str,
    auth: str,
    credentials: DevCredentials | None,
) -> None:
    shown = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else host
    lines = [
        "MozaiksAI local server: the Lambda handlers behind a local WebSocket, for development only",
        f"  workflows  {workflows_dir} ({', '.join(names) or 'none found'})",
        f"  store      {store}",
        f"  model      {model}",
        f"  auth       {auth}",
    ]
    if credentials is not None:
        token = credentials.token
        expires = (datetime.now(UTC) + timedelta(days=DEV_TOKEN_DAYS)).date().isoformat()
        lines += [
            f"  token      {token}",
            f"             app_id {DEV_APP_ID!r}, sub {DEV_USER_ID!r}, expires {expires}; "
            f"saved to {credentials.token_file} (mozaiks chat reads it)",
            f"  websocket  ws://{shown}:{port}{WS_PATH}?token={token}",
            f"  browser    http://{shown}:{port}/?token={token}",
            "  This token and its secret are for local use only: never deploy with them.",
        ]
    else:
        lines += [
            f"  websocket  ws://{shown}:{port}{WS_PATH}?token=<your JWT>",
            f"  browser    http://{shown}:{port}/?token=<your JWT>",
        ]
    if host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  warning    listening on {host}: other machines can reach this development server")
    lines += [f"  http api   http://{shown}:{port}{API_PREFIX}", f"ready: listening on http://{host}:{port}"]
    print("\n".join(lines), file=out, flush=True)

"""Start the local server: wire the services the handlers run against, print the banner, serve until stopped.

Wiring (the local counterparts of the AWS pieces):

* store: ``open_store`` (MONGODB_URI, or an embedded server on a SQLite file), built once at start;
* step queue: ``LocalStepQueue`` whose ``process`` is ``StepDelivery``: every step reaches the worker handler
  as an SQS FIFO event, one at a time per session;
* poster: ``InMemoryPoster`` whose ``send`` writes to the open socket (``ConnectionRegistry``), with the same
  framing (batches, chunks, 128 KB) as the Management API poster;
* background tasks: ``BackgroundTask``s passed to ``serve`` run once at start and then periodically.

Stopping is graceful (``runtime_core.local.lifecycle``): running steps finish within ``shutdown_grace``
before the store closes.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from runtime_core.config import ConfigError
from runtime_core.local.connections import ConnectionRegistry
from runtime_core.local.credentials import DEV_APP_ID, DEV_TOKEN_DAYS, DEV_USER_ID, DevCredentials
from runtime_core.local.delivery import StepDelivery
from runtime_core.local.environment import LocalStore, choose_auth, describe_model, open_store
from runtime_core.local.handlers import Handlers
from runtime_core.local.lifecycle import (
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    BackgroundRunner,
    BackgroundTask,
    Shutdown,
    StoppableServer,
)
from runtime_core.local.server import API_PREFIX, WS_PATH, LocalGateway, create_app
from runtime_core.local.traces import start_tracing
from runtime_core.local.upgrade import UpgradeProtocol, allow_long_header_lines
from runtime_core.queue.local import DEFAULT_STEP_WORKERS, LocalStepQueue

if TYPE_CHECKING:
    from runtime_core.services import Services

log = logging.getLogger("mozaiks.local")

# API Gateway refuses client messages over 128 KB; the handler itself enforces the 32 KB frame limit.
MAX_CLIENT_MESSAGE_BYTES = 128 * 1024


# Local recovery is faster than the AWS defaults (a 30 s lease, a sweep a minute): a step that died with the
# process is taken over within seconds after a restart. Each is a variable AWS uses too, and wins if set.
LOCAL_RECOVERY_DEFAULTS = {"MOZAIKS_STEP_LEASE_SECONDS": "10", "MOZAIKS_RECOVERY_GRACE_SECONDS": "5"}
DEFAULT_SWEEP_SECONDS = 2.0


def sweeper_task(every_seconds: float) -> BackgroundTask:
    """The sweeper as a background task of the local server (on AWS, a scheduled function)."""

    def sweep(services: Services) -> object:
        from runtime_core.worker.sweeper import Sweeper

        sweeper = Sweeper(
            services,
            grace_seconds=services.store.recovery_grace_seconds,
            callback_url=services.settings.endpoint.callback_url,
        )
        return sweeper.sweep()

    return BackgroundTask("sweeper", sweep, every_seconds)


class ServeOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workflows_dir: Path = Path("workflows")
    data_dir: Path = Path(".mozaiks")
    # Sessions whose steps run at the same time, a thread each (Lambda would scale out): generous, so that
    # sessions stuck on a slow model never make another session's step wait.
    step_workers: int = Field(default=DEFAULT_STEP_WORKERS, ge=1, le=1024)
    # On SIGINT/SIGTERM, how long running steps get to finish before the process exits without them.
    shutdown_grace: float = Field(default=DEFAULT_SHUTDOWN_GRACE_SECONDS, ge=0, le=3600)
    # The embedded store's engine when MONGODB_URI is unset: a SQLite file under data_dir, or memory.
    store: Literal["sqlite", "memory"] = "sqlite"
    # The server's and the handlers' (Powertools) log level.
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    # How often the sweeper re-arms sessions that should be moving and are not (it also runs at start, which
    # recovers the sessions a crash or a stop left behind); 0 turns it off.
    sweep_every: float = Field(default=DEFAULT_SWEEP_SECONDS, ge=0, le=3600)
    # Print each step's spans as a timing tree (and export them too when OTEL_* asks for it).
    trace: bool = False


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
    background: Sequence[BackgroundTask] = (),
) -> int:
    """Serve until interrupted, then stop gracefully; returns the exit code.

    ``handlers`` and ``store`` replace the defaults (the runtime_core handlers, ``open_store``);
    ``background`` tasks run once at start and then every ``task.every_seconds`` (see ``BackgroundTask``).
    """
    import uvicorn

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
    # Locally, a workflow with neither a key nor a script.yaml still runs: on the echo model (llm.echo).
    env.setdefault("MOZAIKS_OFFLINE_MODEL", "echo")
    # The worker is told the Management API endpoint in AWS; locally the poster ignores it.
    env.setdefault("MOZAIKS_WS_CALLBACK_URL", f"http://localhost:{port}/local")
    # Step metrics stay on: one EMF line per step, as CloudWatch would receive it (POWERTOOLS_METRICS_DISABLED
    # =true silences them).
    env.setdefault("POWERTOOLS_LOG_LEVEL", options.log_level.upper())
    for name, value in LOCAL_RECOVERY_DEFAULTS.items():
        env.setdefault(name, value)

    local_store: LocalStore | None = None
    queue: LocalStepQueue | None = None
    try:
        try:
            auth, credentials = choose_auth(data_dir, env)
        except ConfigError as exc:
            print(f"error: {exc}", file=out)
            return 2
        local_store = store or open_store(data_dir, env, options.store)
        registry = ConnectionRegistry()
        from runtime_core.config import FrameSettings

        poster = InMemoryPoster(
            send=registry.send,
            close=registry.close_socket,
            max_post_bytes=FrameSettings.from_env().max_post_bytes,
        )
        queue = LocalStepQueue(StepDelivery(handlers.worker), workers=options.step_workers)
        shared = local_store.store
        services = Services(
            store_factory=lambda: shared,
            queue_factory=lambda: queue,
            poster_factory_factory=lambda: lambda endpoint: poster,
            workflows_dir=workflows_dir,
        )
        install_services(services)
        tracing_note = start_tracing(options.trace, out)
        names = services.workflow_names()
        unscripted = [n for n in names if not (workflows_dir / n / "script.yaml").is_file()]
        model = describe_model(_workflow_keys(workflows_dir, names), env, unscripted)
        app = create_app(handlers, registry)

        _banner(
            out,
            options,
            port,
            workflows_dir,
            names,
            local_store.description,
            model,
            auth,
            credentials,
        )
        if tracing_note:
            print(f"  tracing:   {tracing_note}", file=out)
        # Importing the worker pulls in AG2 (seconds): do it now, in the background, not in the first step.
        threading.Thread(target=_preload, args=(handlers,), daemon=True, name="mozaiks-preload").start()
        tasks = [sweeper_task(options.sweep_every)] if options.sweep_every > 0 else []
        runners = [BackgroundRunner(task, services) for task in [*tasks, *background]]
        for runner in runners:
            runner.start()

        allow_long_header_lines()
        config = uvicorn.Config(
            app,
            # uvicorn's websockets-sansio protocol, answering upgrades it cannot read (local/upgrade.py).
            ws=UpgradeProtocol,
            ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
            log_level=options.log_level,
            lifespan="off",
            # Open sockets are closed at once (their $disconnect runs); this only bounds slow HTTP requests.
            timeout_graceful_shutdown=3,
        )
        shutdown = Shutdown(options.shutdown_grace, out)
        shutdown.describe_abandoned(lambda: _abandoned(queue))

        def stopping() -> None:
            # On the event loop as uvicorn begins to stop: queued steps must not start from here on.
            _stop_taking_work(shutdown, queue, runners, out)

        server = StoppableServer(config, shutdown, stopping)
        logging.getLogger("uvicorn.error").addFilter(_HandshakeNoise())
        with shutdown.signals():
            server.run(sockets=[sock])
            shutdown.request()  # uvicorn can also stop on its own (a failed start): stop the same way
            stopping()
            if not _wait_for_work(shutdown, queue, app.state.gateway, runners):
                # Closing the store now would fail those steps mid-write; ending the process leaves their
                # leases to expire, and the next start recovers the sessions.
                shutdown.exit_now(f"stopped after {shutdown.elapsed():.1f} s", 0)
            local_store.close()
            local_store = None
            print(
                f"stopped after {shutdown.elapsed():.1f} s: every running step finished"
                f"{_dropped_note(queue)}; store closed",
                file=out,
                flush=True,
            )
    finally:
        install_services(None)
        # Reached with the store still open only when the start or the stop failed: close it unless a step
        # is still using it (the process is ending anyway; its lease expires).
        if local_store is not None and not (queue is not None and queue.running(block=False)):
            local_store.close()
        sock.close()
    return 0


def _stop_taking_work(
    shutdown: Shutdown, queue: LocalStepQueue, runners: list[BackgroundRunner], out: TextIO
) -> None:
    """Stop the queue and the background tasks, and say what the stop now waits for. Idempotent."""
    if queue.stopped:
        return
    queue.stop()
    for runner in runners:
        runner.stop()
    running = queue.running() or []
    if running:
        waits = (
            f"waiting up to {shutdown.remaining():.1f} s for {_steps(len(running))} running "
            f"(session {', '.join(running)})"
        )
    else:
        waits = "no step running"
    print(
        f"stopping ({shutdown.reason}): no new connections or frames; {waits}; "
        f"queued steps dropped, not started: {queue.dropped} (the next start re-arms their sessions); "
        "Ctrl-C again exits at once",
        file=out,
        flush=True,
    )


def _wait_for_work(
    shutdown: Shutdown, queue: LocalStepQueue, gateway: LocalGateway, runners: list[BackgroundRunner]
) -> bool:
    """Wait, within what is left of the grace period, for everything that uses the store: route handlers
    ($disconnect of the sockets uvicorn closed), running steps, background task runs. True when all ended."""
    idle = gateway.close(timeout=shutdown.remaining())
    idle = queue.wait_running(timeout=shutdown.remaining()) and idle
    for runner in runners:
        idle = runner.join(timeout=shutdown.remaining()) and idle
    return idle


def _steps(count: int) -> str:
    return f"{count} step{'' if count == 1 else 's'}"


def _dropped_note(queue: LocalStepQueue) -> str:
    dropped = queue.dropped
    return f"; {_steps(dropped)} dropped in all (re-armed at the next start)" if dropped else ""


def _abandoned(queue: LocalStepQueue) -> str:
    """The last line's account of a stop that did not wait for every step (never blocks: see running())."""
    running = queue.running(block=False)
    if running is None:
        return "running steps abandoned: their leases expire and the next start recovers their sessions"
    if not running:
        return "no step was running" + _dropped_note(queue)
    return (
        f"{_steps(len(running))} still running abandoned (session {', '.join(running)}): the lease expires "
        f"and the next start recovers the session{'' if len(running) == 1 else 's'}{_dropped_note(queue)}; "
        "store left as is"
    )


def _preload(handlers: Handlers) -> None:
    try:
        handlers.preload()
    except Exception as exc:
        log.warning("could not preload the handlers (they load on first use): %s", exc)


def _banner(
    out: TextIO,
    options: ServeOptions,
    port: int,
    workflows_dir: Path,
    names: list[str],
    store: str,
    model: str,
    auth: str,
    credentials: DevCredentials | None,
) -> None:
    host = options.host
    shown = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else host
    lines = [
        "MozaiksAI local server: the Lambda handlers behind a local WebSocket, for development only",
        f"  workflows  {workflows_dir} ({', '.join(names) or 'none found'})",
        f"  store      {store}",
        f"  model      {model}",
        f"  auth       {auth}",
        f"  steps      up to {options.step_workers} sessions at once, one step at a time each; "
        f"Ctrl-C or SIGTERM lets running steps finish (up to {options.shutdown_grace:g} s)",
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

"""Lambda SnapStart runtime hooks of the step worker.

With SnapStart (template.yaml, WorkerFunction), Lambda runs the function's init when a version is published,
takes a snapshot of the memory, and starts every new execution environment of that version from the snapshot.
What init does is then paid once per deploy instead of on every cold start, so ``before_snapshot`` does the
worker's expensive one-time work there: importing AG2 (``load_engine``) and loading and compiling every
workflow under the workflows directory, so a restored worker's first step starts with them ready.

Everything in the snapshot is shared by all the environments restored from it, possibly hours later, so
``after_restore`` renews what must not be shared or may have gone stale (AWS asks for this; it must finish,
with the runtime's own restore, within 10 seconds):

* secrets resolved at init (``NAME_ARN`` variables): the cache is cleared and the role's settings are
  validated again, which resolves them anew (a rotated or removed secret shows here, as at a cold start);
* clients and connection pools: the production store (a MongoClient with its sockets, monitor threads and
  pooled server sessions), the SQS queue and the Management API posters are built lazily on first use, so
  none should exist yet; one that does is closed and dropped (and reported before the snapshot, a bug);
  boto3's default session, which holds credentials resolved during init, is dropped too;
* randomness: Python's ``random`` state is reseeded (it would otherwise produce the same sequence, retry
  jitter included, in every restored copy), and so is the per-process part of bson's ObjectIds, which
  pymongo generates client-side for inserted documents without an ``_id`` (the usage ledger's rows): two
  copies restored from one snapshot would otherwise generate the same ids.

``register_hooks`` registers both with the runtime's ``snapshot_restore_py`` library when it is there (the
Lambda Python runtime ships it, SnapStart or not; without SnapStart the hooks are simply never run). Outside
Lambda the library is absent and nothing happens.
"""

from __future__ import annotations

import importlib
import random
import sys
import time
from typing import Any

from runtime_core.config import RuntimeSettings, clear_secret_cache
from runtime_core.services import Services, get_services
from runtime_core.telemetry import runtime_logger
from runtime_core.wiring import Role, cold_start

HOOKS_LIBRARY = "snapshot_restore_py"
# The lazily built collaborators of Services (functools.cached_property: deleting the attribute drops it).
CLIENT_PROPERTIES = ("store", "queue", "poster_for", "verifier")


def register_hooks(role: Role = Role.worker) -> bool:
    """Register ``before_snapshot`` and ``after_restore`` when the runtime provides the hooks library."""
    try:
        hooks: Any = importlib.import_module(HOOKS_LIBRARY)
    except ImportError:
        return False
    hooks.register_before_snapshot(before_snapshot)
    hooks.register_after_restore(after_restore, role)
    return True


def before_snapshot() -> list[str]:
    """Import AG2 and compile every workflow; return the names of the workflows compiled."""
    started = time.perf_counter()
    # Imported here: the worker module itself must not import AG2 (an environment started without SnapStart
    # imports it on its first step, as before).
    from runtime_core.engine.compiler import compile_workflow
    from runtime_core.engine.loading import load_engine

    load_engine()
    services = get_services()
    compiled: list[str] = []
    for name in services.workflow_names():
        try:
            compile_workflow(services.workflow(name))
        except Exception as exc:
            # A broken workflow fails its own sessions' steps with the validation error, as without
            # SnapStart; it must not fail the publication of the worker (and with it the whole deployment).
            runtime_logger().warning(
                "snapstart: workflow not compiled before the snapshot",
                extra={"workflow": name, "error": str(exc)},
            )
        else:
            compiled.append(name)
    dropped = drop_clients(services)
    if dropped:
        runtime_logger().warning(
            "snapstart: clients were built during init; dropped before the snapshot",
            extra={"clients": dropped},
        )
    runtime_logger().info(
        "snapstart: ready for the snapshot",
        extra={"workflows": compiled, "ms": round((time.perf_counter() - started) * 1000)},
    )
    return compiled


def after_restore(role: Role = Role.worker) -> None:
    """Renew what a restored environment must not share with the others restored from the same snapshot."""
    started = time.perf_counter()
    random.seed()
    reseed_object_ids()
    reset_boto3()
    services = get_services()
    dropped = drop_clients(services)
    clear_secret_cache()
    services.settings = RuntimeSettings()
    # Resolves the role's secrets again and validates every setting; on failure, one log line names the
    # variables and the restore fails, as a cold start would.
    cold_start(role)
    runtime_logger().info(
        "snapstart: restored",
        extra={"dropped": dropped, "ms": round((time.perf_counter() - started) * 1000)},
    )


def drop_clients(services: Services) -> list[str]:
    """Close and forget the clients ``services`` built; the next use builds new ones. Returns their names."""
    dropped = []
    for name in CLIENT_PROPERTIES:
        client = vars(services).pop(name, None)
        if client is None:
            continue
        dropped.append(name)
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # its sockets may be dead after a restore: forgetting it is what counts
                runtime_logger().warning(
                    "snapstart: closing a client failed", extra={"client": name, "error": str(exc)}
                )
    # The Management API clients are shared per endpoint by every poster of the process.
    management_api = sys.modules.get("runtime_core.transport.management_api")
    clients = getattr(management_api, "_CLIENTS", None)
    if clients:
        clients.clear()
        dropped.append("management_api_clients")
    return dropped


def reseed_object_ids() -> None:
    """New random parts for bson's ObjectIds: the 5 per-process bytes (regenerated when the recorded pid is
    not the current one) and the counter's random start. A no-op when bson was never imported."""
    objectid = sys.modules.get("bson.objectid")
    if objectid is None:
        return
    # bson's own class attributes (no public API resets them): tests/deployment/test_snapstart.py checks the
    # effect, and the deployed-shape test runs this against the layer's pymongo.
    generator = objectid.ObjectId
    with generator._inc_lock:
        generator._inc = random.SystemRandom().randint(0, objectid._MAX_COUNTER_VALUE)
        generator._pid = -1


def reset_boto3() -> None:
    """Drop boto3's default session: it caches credentials resolved during init, which this environment must
    resolve again (SnapStart functions get theirs from Lambda's container credentials endpoint)."""
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None

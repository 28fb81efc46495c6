"""The worker's SnapStart hooks (runtime_core/worker/snapstart.py), called directly or in fresh processes with
the stand-in of the runtime's ``snapshot_restore_py``: registered only when the runtime provides the library;
before the snapshot, AG2 imported and every workflow compiled, nothing connected; after a restore, secrets
resolved again, settings validated again, clients dropped, randomness and ObjectIds reseeded. The deployed
shape (the built worker going through both phases) is test_deployed_snapstart.py."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from runtime_core.config import ConfigError, reader
from runtime_core.services import Services, get_services, install_services
from runtime_core.wiring import Role, cold_start
from runtime_core.worker import snapstart
from tests.deployment.lambda_runtime import REPO, Artifacts

HOOKS_DIR = Artifacts().runtime_hooks
WORKFLOWS = sorted(p.parent.name for p in (REPO / "workflows").glob("*/orchestrator.yaml"))
WORKER_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "mozaiks-worker",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "MONGODB_URI_ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/mozaiks/mongodb-uri",
    "MOZAIKS_STEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/steps.fifo",
    "MOZAIKS_WS_CALLBACK_URL": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod",
    "MOZAIKS_WORKFLOWS_DIR": str(REPO / "workflows"),
}


def stand_in() -> ModuleType:
    """A fresh copy of the runtime library's stand-in (its registries empty)."""
    spec = importlib.util.spec_from_file_location("snapshot_restore_py", HOOKS_DIR / "snapshot_restore_py.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_python(code: str, *, hooks: bool, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter of the dev environment, from the repository; its last line is
    JSON."""
    path = [str(REPO), *([str(HOOKS_DIR)] if hooks else [])]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\nsys.path[:0] = {path!r}\n{code}"],
        cwd=REPO,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The worker's environment in Lambda, with secret fetches answered locally: each fetch returns a new
    value (a rotated secret). Yields the ARNs fetched, in order."""
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    fetched: list[str] = []

    def fetch(arn: str) -> str:
        fetched.append(arn)
        return f"mongodb://user:password-{len(fetched)}@db.example.com/?replicaSet=rs0"

    def cached(arn: str) -> str:  # as reader.fetch_secret: once per container, until the cache is cleared
        if arn not in reader._SECRET_CACHE:
            reader._SECRET_CACHE[arn] = fetch(arn)
        return reader._SECRET_CACHE[arn]

    monkeypatch.setattr(reader, "fetch_secret", cached)
    reader.clear_secret_cache()
    install_services(None)
    yield fetched
    install_services(None)
    reader.clear_secret_cache()


# ---- registration -----------------------------------------------------------------------------------------


def test_without_the_runtime_library_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    assert snapstart.register_hooks(Role.worker) is False


def test_with_the_runtime_library_both_hooks_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    library = stand_in()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", library)
    assert snapstart.register_hooks(Role.worker) is True
    assert library.get_before_snapshot() == [(snapstart.before_snapshot, (), {})]
    assert library.get_after_restore() == [(snapstart.after_restore, (Role.worker,), {})]


def test_importing_the_worker_registers_its_hooks_and_no_route_handler_does() -> None:
    code = (
        "import json, importlib, snapshot_restore_py as h\n"
        "for m in ('functions.connect', 'functions.default', 'functions.disconnect', 'functions.sweeper'):\n"
        "    importlib.import_module(m)\n"
        "routes = [len(h.get_before_snapshot()), len(h.get_after_restore())]\n"
        "import functions.worker\n"
        "print(json.dumps({'routes': routes, 'before': [f.__name__ for f, a, k in h.get_before_snapshot()],\n"
        "    'after': [[f.__name__, [str(x) for x in a]] for f, a, k in h.get_after_restore()],\n"
        "    'ag2': 'autogen' in sys.modules}))"
    )
    found = fresh_python(code, hooks=True)
    assert found == {
        "routes": [0, 0],
        "before": ["before_snapshot"],
        "after": [["after_restore", ["worker"]]],
        "ag2": False,
    }
    # Outside Lambda there is no library: the worker imports as before.
    assert fresh_python("import json, functions.worker\nprint(json.dumps('ok'))", hooks=False) == "ok"


# ---- before the snapshot ----------------------------------------------------------------------------------

BEFORE = """
import json, sys
from runtime_core.services import get_services
from runtime_core.worker.snapstart import before_snapshot
assert "autogen" not in sys.modules
names = before_snapshot()
from runtime_core.engine import compiler
print(json.dumps({
    "names": names,
    "ag2": "autogen" in sys.modules,
    "compiled": sorted(c.name for c in compiler._CACHE.values()),
    "store": "store" in vars(get_services()),
}))
"""


def test_before_the_snapshot_ag2_is_imported_and_every_workflow_compiled() -> None:
    found = fresh_python(BEFORE, hooks=False, env={"MOZAIKS_WORKFLOWS_DIR": "workflows"})
    assert found == {"names": WORKFLOWS, "ag2": True, "compiled": WORKFLOWS, "store": False}
    assert len(WORKFLOWS) >= 3


def test_a_broken_workflow_does_not_fail_the_snapshot(tmp_path: Path) -> None:
    good = WORKFLOWS[0]
    (tmp_path / good).symlink_to(REPO / "workflows" / good, target_is_directory=True)
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "orchestrator.yaml").write_text("workflow_name: [not, a, name\n")
    found = fresh_python(BEFORE, hooks=False, env={"MOZAIKS_WORKFLOWS_DIR": str(tmp_path)})
    assert found["names"] == [good] and found["compiled"] == [good]


class Closable:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_clients_built_before_the_snapshot_are_closed_and_dropped() -> None:
    from runtime_core.transport import management_api

    store, queue = Closable(), Closable()
    services = Services(store_factory=lambda: store, queue_factory=lambda: queue)  # type: ignore[arg-type,return-value]
    assert services.store is store and services.queue is queue
    management_api._CLIENTS[("https://x.example.com/prod", "us-east-1")] = object()
    assert snapstart.drop_clients(services) == ["store", "queue", "management_api_clients"]
    assert store.closed and queue.closed and management_api._CLIENTS == {}
    assert "store" not in vars(services) and snapstart.drop_clients(services) == []


# ---- after a restore --------------------------------------------------------------------------------------


def test_after_a_restore_secrets_are_resolved_again_and_settings_replaced(production: list[str]) -> None:
    services = cold_start(Role.worker)  # the init phase, before the snapshot
    before = services.settings
    assert before.store.mongodb_uri.get_secret_value().endswith("password-1@db.example.com/?replicaSet=rs0")
    queue = services.queue  # a client built before the snapshot (a bug the hook survives)
    snapstart.after_restore(Role.worker)
    assert get_services() is services and services.settings is not before
    assert "queue" not in vars(services) and services.queue is not queue
    # The cache was cleared: the secret was read again (it may have been rotated since the snapshot).
    assert production == [WORKER_ENV["MONGODB_URI_ARN"]] * 2
    assert "password-2@" in services.settings.store.mongodb_uri.get_secret_value()


def test_a_secret_unreadable_after_a_restore_fails_it_naming_the_variable(
    production: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cold_start(Role.worker)

    def gone(arn: str) -> str:
        raise RuntimeError("ParameterNotFound")

    monkeypatch.setattr(reader, "fetch_secret", gone)
    with pytest.raises(ConfigError, match="MONGODB_URI_ARN"):
        snapstart.after_restore(Role.worker)
    (line,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert line.variables == ["MONGODB_URI_ARN"] and line.role == "worker"  # type: ignore[attr-defined]


def test_after_a_restore_randomness_and_the_aws_session_are_new(production: list[str]) -> None:
    import boto3

    cold_start(Role.worker)
    boto3.setup_default_session(region_name="us-east-1")
    random.seed(1234)  # as every copy restored from one snapshot would continue the same sequence
    expected = random.Random(1234).random()
    snapstart.after_restore(Role.worker)
    assert random.random() != expected
    assert boto3.DEFAULT_SESSION is None


def test_copies_restored_from_one_snapshot_generate_different_object_ids(production: list[str]) -> None:
    """pymongo generates the ``_id`` of inserted documents client-side (the usage ledger's rows): 5 random
    bytes per process and a counter. Copies restored from one snapshot share both, and the same pid."""
    from bson.objectid import ObjectId

    ObjectId()  # the state init leaves: the pid recorded is the process's own
    snapshot = (ObjectId._inc, ObjectId._pid, ObjectId._ObjectId__random)  # type: ignore[attr-defined]

    def restore() -> None:
        ObjectId._inc, ObjectId._pid, ObjectId._ObjectId__random = snapshot  # type: ignore[attr-defined]

    def restored_copy(hook: bool) -> bytes:
        restore()
        if hook:
            snapstart.after_restore(Role.worker)
        return ObjectId().binary[4:]  # what follows the timestamp: the random part and the counter

    try:
        assert restored_copy(hook=False) == restored_copy(hook=False)  # the same ids in the same second
        first, second = restored_copy(hook=True), restored_copy(hook=True)
        assert first[:5] != second[:5] and first[5:] != second[5:]
    finally:
        restore()

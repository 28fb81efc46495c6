"""The production wiring: settings validated per role at cold start, one log line naming every bad variable,
and services built from the validated settings only (never an embedded database)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_core.config import VARIABLES, ConfigError, Group, RuntimeSettings
from runtime_core.config.reader import Reader
from runtime_core.wiring import ROLE_GROUPS, Role

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/steps.fifo"


def test_require_reports_every_problem_of_every_group_at_once() -> None:
    settings = RuntimeSettings(
        {"MOZAIKS_STEP_LEASE_SECONDS": "1", "MOZAIKS_MODEL": "gpt-9"}, fetch=lambda arn: "unused"
    )
    with pytest.raises(ConfigError) as caught:
        settings.require(ROLE_GROUPS[Role.worker])
    assert set(caught.value.variables) == {
        "MONGODB_URI",
        "MOZAIKS_STEP_QUEUE_URL",
        "MOZAIKS_STEP_LEASE_SECONDS",
        "MOZAIKS_MODEL",
    }
    # One line: what a failed cold start logs.
    assert "\n" not in str(caught.value)


def test_each_role_needs_only_its_own_groups() -> None:
    env = {"MONGODB_URI": "mongodb://db:27017"}
    # $disconnect needs the store and nothing else: no JWT, no queue.
    RuntimeSettings(env).require(ROLE_GROUPS[Role.disconnect])
    with pytest.raises(ConfigError) as caught:
        RuntimeSettings(env).require(ROLE_GROUPS[Role.connect])
    assert caught.value.variables == ["MOZAIKS_JWT_SECRET"]
    RuntimeSettings({**env, "MOZAIKS_STEP_QUEUE_URL": QUEUE}).require(ROLE_GROUPS[Role.default])


def test_only_declared_variables_can_be_read() -> None:
    reader = Reader({"MOZAIKS_SOMETHING_NEW": "1"}, None)
    with pytest.raises(KeyError, match="not declared"):
        reader.text("MOZAIKS_SOMETHING_NEW")
    # Every secret has its _ARN twin declared.
    assert all(f"{v.name}_ARN" in VARIABLES for v in VARIABLES.values() if v.secret)
    assert {v.group for v in VARIABLES.values()} == set(Group)


def _cold_start(role: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from runtime_core.wiring import Role, cold_start\n"
        f"cold_start(Role.{role})\n"
        "print('started')\n"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "mozaiks-test",
        "POWERTOOLS_SERVICE_NAME": "t",
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
        check=False,
    )


def test_a_bad_configuration_fails_the_cold_start_with_one_line_naming_the_variables() -> None:
    result = _cold_start("worker", {"MONGODB_URI": "postgres://db", "MOZAIKS_STEP_LEASE_SECONDS": "2"})
    assert result.returncode != 0 and "started" not in result.stdout
    (line,) = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert line["level"] == "ERROR" and line["role"] == "worker"
    assert line["variables"] == ["MONGODB_URI", "MOZAIKS_STEP_QUEUE_URL", "MOZAIKS_STEP_LEASE_SECONDS"]
    assert "must start with mongodb://" in line["message"]


def test_a_good_configuration_starts_without_touching_the_database() -> None:
    # Nothing listens on this port: a cold start validates settings, it does not connect.
    env = {"MONGODB_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100"}
    result = _cold_start("disconnect", env)
    assert result.returncode == 0 and result.stdout.strip() == "started", result.stderr


def test_outside_lambda_nothing_is_validated_at_import() -> None:
    # The local server and tests install their own services; importing a handler must not demand AWS settings.
    result = subprocess.run(
        [sys.executable, "-c", "import functions.worker, functions.connect; print('imported')"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.stdout.strip() == "imported", result.stderr


def test_production_services_use_the_configured_database() -> None:
    from runtime_core.services import Services
    from runtime_core.store.embedded import start_embedded
    from runtime_core.store.mongo import MongoSessionStore

    server = start_embedded("memory")
    try:
        services = Services(settings=RuntimeSettings({"MONGODB_URI": server.uri, "MOZAIKS_DB_NAME": "wired"}))
        store = services.store
        assert isinstance(store, MongoSessionStore) and store.settings.db_name == "wired"
        # Indexes are ensured once per database: a second cold start only reads the marker.
        assert store.ensure_indexes_if_needed() is False
        store.close()
    finally:
        server.stop()

"""The built worker through SnapStart's phases, in the deployed shape (lambda_runtime runs init, the
before-snapshot hooks, the after-restore hooks and the invocation in one fresh process, as Lambda runs them
across a snapshot): AG2 imported and every workflow compiled before the snapshot, the step finding them ready,
the secrets read again after the restore within Lambda's 10 s, and nothing of it in the route handlers."""

from __future__ import annotations

import json
from typing import Any

from tests.deployment.deployed_stack import Connection, Stack, connection_id, env_problems, iam_problems
from tests.deployment.lambda_runtime import REPO, Invocation

WORKFLOWS = sorted(p.parent.name for p in (REPO / "workflows").glob("*/orchestrator.yaml"))
# Lambda's limit for loading the runtime and running the after-restore hooks (SnapStartTimeoutException).
RESTORE_LIMIT_SECONDS = 10.0


def log_lines(invocation: Invocation) -> list[dict[str, Any]]:
    return [json.loads(line) for line in invocation.output.splitlines() if line.startswith('{"level"')]


def test_the_worker_runs_from_a_snapshot_and_the_route_handlers_do_not(stack: Stack) -> None:
    client = Connection(stack, connection_id(), stack.token())
    client.connect()
    client.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Hi"})
    assert stack.drain(stop_after=1) == 1
    (worker,) = [i for i in stack.invocations if i.function_id == "WorkerFunction"]
    assert list(worker.phases) == ["init", "before_snapshot", "after_restore", "handler"]
    assert worker.phases["after_restore"] < RESTORE_LIMIT_SECONDS
    # The step found AG2 imported (and, below, every workflow compiled) before it started.
    assert "autogen" in worker.loaded_before_handler
    messages = {line["message"]: line for line in log_lines(worker)}
    assert messages["snapstart: ready for the snapshot"]["workflows"] == WORKFLOWS
    assert messages["snapstart: restored"]["dropped"] == []  # nothing was connected before the snapshot
    # The MongoDB URI (an SSM parameter here) was read at init, and again after the restore.
    reads = [c for c in worker.aws_calls if c.operation == "GetParameter"]
    parameter = f"/mozaiks/{stack.parameters['MongoDbName']}/mongodb-uri"
    assert [c.params["Name"] for c in reads] == [parameter, parameter]
    for invocation in stack.invocations:
        assert env_problems(invocation, stack.template_env(invocation.function_id)) == []
        assert iam_problems(invocation, stack.resolver) == []
        assert invocation.outside_modules == []
        assert not [line for line in log_lines(invocation) if line["level"] == "ERROR"]
        if invocation.function_id != "WorkerFunction":
            assert "before_snapshot" not in invocation.phases
            assert "autogen" not in invocation.loaded_before_handler
    seconds = {k: round(v, 3) for k, v in worker.phases.items()}
    print(f"\nworker phases (s): {seconds}")

"""The deployed-shape checks fail when the deployment is broken: each defect made on purpose, each caught.

* a module missing from the built artifact fails the invocation (nothing else on the path can supply it);
* a variable the template does not set fails the cold start, with one log line naming it;
* a secret ARN that cannot be read fails the cold start, with one log line naming the ARN variable;
* code reading a variable that is neither set by the template nor declared with a default is reported;
* an AWS call the function's policy does not grant is reported.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

from tests.deployment.deployed_stack import Connection, Stack, connection_id, env_problems, iam_problems
from tests.deployment.lambda_runtime import Artifacts, Invocation


def artifact_copy(artifacts: Artifacts, function_id: str, work: Path) -> Artifacts:
    """The built artifacts with a private copy of one function's directory, to break."""
    build = work / "build"
    shutil.copytree(artifacts.task_root(function_id), build / function_id)
    return artifacts.model_copy(update={"build": build})


def error_lines(invocation: Invocation) -> list[dict[str, Any]]:
    lines = []
    for line in invocation.output.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("level") == "ERROR":
                lines.append(record)
    return lines


def test_a_module_missing_from_the_build_fails_the_invocation(stack: Stack, tmp_path: Path) -> None:
    broken = artifact_copy(stack.artifacts, "DisconnectFunction", tmp_path)
    (broken.task_root("DisconnectFunction") / "runtime_core" / "store" / "mongo" / "steps.py").unlink()
    invocation = stack.invoke(
        "functions/disconnect.handler", stack.disconnect_event(connection_id()), artifacts=broken
    )
    assert invocation.phase in ("init", "invoke")
    assert "ModuleNotFoundError: No module named 'runtime_core.store.mongo.steps'" in (invocation.error or "")
    # The intact artifact serves the same event.
    assert stack.invoke("functions/disconnect.handler", stack.disconnect_event(connection_id())).ok()


def test_a_variable_the_template_does_not_set_fails_the_cold_start(stack: Stack) -> None:
    template = copy.deepcopy(stack.template)
    del template["Resources"]["DefaultFunction"]["Properties"]["Environment"]["Variables"][
        "MOZAIKS_STEP_QUEUE_URL"
    ]
    env = stack.template_env("DefaultFunction", stack.resolver_for(template))
    invocation = stack.invoke(
        "functions/default.handler", stack.frame_event(connection_id(), {"type": "ping"}), env=env
    )
    assert invocation.phase == "init"
    assert "ConfigError" in (invocation.error or "") and "MOZAIKS_STEP_QUEUE_URL" in (invocation.error or "")
    (line,) = error_lines(invocation)
    assert line["variables"] == ["MOZAIKS_STEP_QUEUE_URL"] and "is required" in line["message"], line


def test_an_unreadable_secret_fails_the_cold_start_naming_its_variable(stack: Stack) -> None:
    env = stack.template_env("DisconnectFunction")
    env["MONGODB_URI_ARN"] = env["MONGODB_URI_ARN"].replace("mongodb-uri", "no-such-parameter")
    invocation = stack.invoke(
        "functions/disconnect.handler", stack.disconnect_event(connection_id()), env=env
    )
    assert invocation.phase == "init"
    (line,) = error_lines(invocation)
    assert line["variables"] == ["MONGODB_URI_ARN"] and "cannot be resolved" in line["message"], line


def test_reading_a_variable_nobody_sets_or_declares_is_reported(stack: Stack, tmp_path: Path) -> None:
    broken = artifact_copy(stack.artifacts, "DisconnectFunction", tmp_path)
    module = broken.task_root("DisconnectFunction") / "functions" / "disconnect.py"
    module.write_text(module.read_text() + '\nimport os\n\nos.environ.get("MOZAIKS_NOT_IN_THE_TEMPLATE")\n')
    invocation = stack.invoke(
        "functions/disconnect.handler", stack.disconnect_event(connection_id()), artifacts=broken
    )
    invocation.ok()
    problems = env_problems(invocation, stack.template_env("DisconnectFunction"))
    assert problems == [
        "DisconnectFunction reads MOZAIKS_NOT_IN_THE_TEMPLATE: not declared and not set by template.yaml"
    ]


def test_a_call_the_policy_does_not_grant_is_reported(stack: Stack) -> None:
    client = Connection(stack, connection_id(), stack.token())
    client.connect()
    client.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1"})
    invocation = stack.invocations[-1]
    assert iam_problems(invocation, stack.resolver) == []

    template = copy.deepcopy(stack.template)
    statements = template["Resources"]["DefaultFunction"]["Properties"]["Policies"][0]["Statement"]
    (queue,) = [s for s in statements if isinstance(s, dict) and "sqs:SendMessage" in s.get("Action", [])]
    queue["Action"] = [a for a in queue["Action"] if a != "sqs:SendMessage"]
    problems = iam_problems(invocation, stack.resolver_for(template))
    assert len(problems) == 1 and "calls sqs:SendMessage" in problems[0], problems

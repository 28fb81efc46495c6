"""A workflow written for the original MozaiksAI runtime, in the deployed shape.

A migrating user drops their workflow folder into ``workflows/`` and runs ``sam deploy``: the folder ships
inside each function's code, beside ``runtime_core``. Here the `sam build` artifacts get the KeyDesk test
workflow (original dialect; tools that import ``mozaiksai...``, ``logs...`` and ``workflows.KeyDesk...``, wait
for the UI inside a tool body and change the context in place) and run it as Lambda would, one fresh process
per invocation: the compatibility modules, the replay of the tool after the user's answer and the runtime
context must all hold there too, not only in the engine's tests. PlanDesk adds an auto_tool_mode agent whose
auto-invoked UI tool imports ``workflows._shared`` (shipped as ``workflows/_shared`` beside it).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.deployed_stack import AwsDouble, Connection, Stack, connection_id, repo_path
from tests.deployment.lambda_runtime import Artifacts

KEYDESK = repo_path("tests", "engine", "original", "KeyDesk")
# An auto_tool_mode agent whose UI tool imports workflows._shared (the folder beside the workflow folders).
PLANDESK = repo_path("tests", "engine", "original", "PlanDesk")
SHARED = repo_path("tests", "engine", "original", "_shared")


def _shipped(artifacts: Artifacts, tmp_path: Path, folders: dict[str, Path]) -> Artifacts:
    """The build after the user added ``folders`` to ``workflows/``: a copy of each function's code."""
    build = tmp_path / "build"
    build.mkdir()
    for item in artifacts.build.iterdir():
        if (item / "workflows").is_dir():
            shutil.copytree(item, build / item.name, symlinks=True)
            for name, folder in folders.items():
                shutil.copytree(folder, build / item.name / "workflows" / name)
        else:
            (build / item.name).symlink_to(item)
    return artifacts.model_copy(update={"build": build})


@pytest.fixture
def stack_with_keydesk(artifacts: Artifacts, aws: AwsDouble, mongo_uri: str, tmp_path: Path) -> Stack:
    shipped = _shipped(artifacts, tmp_path, {"KeyDesk": KEYDESK})
    return Stack(shipped, aws, mongo_uri, db_name=f"original{uuid.uuid4().hex[:8]}")


def _events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if isinstance(m.get("seq"), int)]


def test_an_original_dialect_workflow_runs_in_the_built_functions(stack_with_keydesk: Stack) -> None:
    stack = stack_with_keydesk
    client = Connection(stack, connection_id(), stack.token(app_id="acme", user_id="u-7"))
    assert client.connect()["statusCode"] == 200
    client.send({"type": "start", "workflow": "KeyDesk", "msg_id": "m-start"})
    (ack,) = [m for m in client.received() if "seq" not in m]
    assert ack["type"] == "ack", ack
    session_id = ack["session_id"]

    # The tool asked the UI from inside its body: the step ended at the wait, with the original's component.
    stack.drain()
    seen = _events(client.received())
    request = seen[-1]
    assert request["type"] == "input_request", request
    assert (request["request"]["component"], request["request"]["display"]) == (
        "AgentAPIKeyInput",
        "artifact",
    )
    assert request["request"]["ui"] == {"service": "open_ai", "label": "Open Ai API Key"}

    client.send(
        {
            "type": "answer",
            "session_id": session_id,
            "msg_id": "m-key",
            "request_id": request["request"]["request_id"],
            "data": {"status": "success", "data": {"apiKey": "sk-test-123"}},
        }
    )
    stack.drain()
    events = seen + _events(client.received())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run_completed" and events[-1]["status"] == "completed", events[-1]

    # The tool ran again from its start with the recorded answer; the context it changed in place persisted
    # across fresh processes, and the runtime context came from the verified token.
    results = {e["name"]: json.loads(e["content"]) for e in events if e["type"] == "tool_result"}
    assert results["request_key"] == {
        "status": "success",
        "service": "open_ai",
        "key_length": 11,
        "app_id": "acme",
    }
    assert results["report"] == {
        "key_status": "success",
        "key_service": "open_ai",
        "app_id": "acme",
        "user_id": "u-7",
        "chat_id": session_id,
        "workflow_name": "KeyDesk",
    }
    problems = [
        f"{i.function_id} ({i.phase}) logged an error:\n{i.output[-2000:]}"
        for i in stack.invocations
        if '"level":"ERROR"' in i.output or i.phase != "ok"
    ]
    problems += [f"{i.function_id} loaded {m}" for i in stack.invocations for m in i.outside_modules]
    assert problems == []


def test_an_auto_invoked_ui_tool_importing_workflows_shared_runs_in_the_built_functions(
    artifacts: Artifacts, aws: AwsDouble, mongo_uri: str, tmp_path: Path
) -> None:
    shipped = _shipped(artifacts, tmp_path, {"PlanDesk": PLANDESK, "_shared": SHARED})
    stack = Stack(shipped, aws, mongo_uri, db_name=f"original{uuid.uuid4().hex[:8]}")
    client = Connection(stack, connection_id(), stack.token(app_id="acme", user_id="u-7"))
    assert client.connect()["statusCode"] == 200
    client.send({"type": "start", "workflow": "PlanDesk", "msg_id": "m-start"})
    (ack,) = [m for m in client.received() if "seq" not in m]
    assert ack["type"] == "ack", ack

    # The Drafter's structured output invoked its UI tool, which waits: the step ended there.
    stack.drain()
    seen = _events(client.received())
    request = seen[-1]
    assert request["type"] == "input_request", request
    assert request["request"]["tool_call_id"] == "auto-1"
    assert request["request"]["ui"]["order"] == "staff -> beta -> all"  # from workflows/_shared

    client.send(
        {
            "type": "answer",
            "session_id": ack["session_id"],
            "msg_id": "m-review",
            "request_id": request["request"]["request_id"],
            "data": {"decision": "approved"},
        }
    )
    stack.drain()
    events = seen + _events(client.received())
    assert events[-1]["type"] == "run_completed" and events[-1]["status"] == "completed", events[-1]
    (result,) = [e for e in events if e["type"] == "tool_result"]
    assert json.loads(result["content"]) == {"status": "success", "decision": "approved", "stages": 3}
    assert [e["agent"] for e in events if e["type"] == "agent_message"] == ["Closer"]

"""The JavaScript client (runtime_core/local/static/client/) under node's own test runner, no npm packages:
against a fake socket (tests/client/client.unit.test.mjs), and against this session's ``mozaiks serve``
(tests/client/client.serve.test.mjs). Needs ``node`` (>= 20) on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
from local_server import REPO, RunningServer

CLIENT_TESTS = REPO / "tests" / "client"
CLIENT_DIR = REPO / "runtime_core" / "local" / "static" / "client"


def _node() -> list[str]:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the JavaScript client's tests"
    # Node 20 has WebSocket behind a flag; 22 has it on by default.
    probe = subprocess.run([node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False)
    return [node] if probe.returncode == 0 else [node, "--experimental-websocket"]


def _run(test_file: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [*_node(), "--test", "--test-reporter=tap", str(test_file)],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _passed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("# pass "))
    return int(line.split()[-1])


def test_the_client_against_a_fake_socket() -> None:
    output = _run(CLIENT_TESTS / "client.unit.test.mjs")
    assert _passed(output) >= 15 and "# fail 0" in output


def test_the_client_against_mozaiks_serve(server: RunningServer) -> None:
    env = {
        "MOZAIKS_TEST_WS_URL": server.ws_url,
        "MOZAIKS_TEST_HTTP_URL": f"{server.http_url}/api",
        "MOZAIKS_TEST_TOKEN": server.token,
    }
    output = _run(CLIENT_TESTS / "client.serve.test.mjs", env)
    assert _passed(output) == 2 and "# fail 0" in output


def test_the_client_is_served_and_typed(server: RunningServer) -> None:
    for name, kind in (("mozaiks-client.js", "javascript"), ("mozaiks-client.d.ts", "typescript")):
        response = httpx.get(f"{server.http_url}/client/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.text == (CLIENT_DIR / name).read_text()
        assert kind in response.headers["content-type"]
    declarations = (CLIENT_DIR / "mozaiks-client.d.ts").read_text()
    source = (CLIENT_DIR / "mozaiks-client.js").read_text()
    # Every public method the declarations promise exists in the module (and no import: dependency-free).
    for method in ("start(", "userMessage(", "answer(", "cancel(", "resume(", "drop(", "lastSeq(", "forget("):
        assert method in declarations and f"  {method}" in source, method
    assert "import " not in source and "require(" not in source

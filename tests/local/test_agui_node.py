"""AG-UI checked by the official client: every example workflow over a real socket to ``mozaiks serve``
(``?encoding=agui``), its events through @ag-ui/core's schemas and @ag-ui/client's ``verifyEvents``
(tests/agui_node/verify.mjs, npm dependencies pinned in its package-lock.json), one run with a reconnect in
the middle of a run, and a replay that must tell the same story. The check is shown to bite: with a
TEXT_MESSAGE_END dropped, the verifier refuses the stream."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from local_server import REPO, WORKFLOWS, RunningServer

from runtime_core.llm.script import load_script
from runtime_core.workflow import load_workflow
from runtime_core.workflow.spec import StartupMode

NODE_PROJECT = REPO / "tests" / "agui_node"
EXAMPLES = ["CustomerSupport", "ContentReview", "TripPlanner"]


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node (>= 20) is needed: apt-get install nodejs npm"
    return node


@pytest.fixture(scope="module")
def node_project() -> Path:
    """The pinned npm dependencies, installed from the lockfile when missing (.ci/run installs them first)."""
    modules = NODE_PROJECT / "node_modules"
    if not all((modules / name).is_dir() for name in ("@ag-ui/client", "@ag-ui/core", "rxjs", "ws")):
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install tests/agui_node's dependencies"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, check=True, timeout=300)
    return NODE_PROJECT


def _workflow_config(name: str, reconnect: bool = False) -> dict[str, Any]:
    workflow = load_workflow(WORKFLOWS / name)
    inputs = [
        u.model_dump(exclude_none=True) for u in load_script(WORKFLOWS / name / "script.yaml").user_inputs
    ]
    first = None
    if workflow.orchestrator.startup_mode == StartupMode.user_first:
        first = inputs.pop(0)["text"]
    return {"name": name, "first_message": first, "inputs": inputs, "reconnect": reconnect}


def _verify(
    server: RunningServer, workflows: list[dict[str, Any]], tmp_path: Path, **env: str
) -> dict[str, Any]:
    config = tmp_path / "agui.json"
    config.write_text(json.dumps({"url": server.ws_url, "token": server.token, "workflows": workflows}))
    done = subprocess.run(
        [_node(), "verify.mjs", str(config)],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **env},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary from verify.mjs (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    summary: dict[str, Any] = json.loads(lines[-1])
    summary["exit"] = done.returncode
    summary["stderr"] = done.stderr
    return summary


def test_every_example_workflow_passes_the_official_ag_ui_verifier(
    server: RunningServer, node_project: Path, tmp_path: Path
) -> None:
    workflows = [_workflow_config(name) for name in EXAMPLES] + [_workflow_config("CustomerSupport", True)]
    summary = _verify(server, workflows, tmp_path)
    assert summary["ok"] and summary["exit"] == 0, summary["failed"]
    results = {(r["workflow"], r["cut_at"] is not None): r for r in summary["results"]}
    assert set(results) == {(name, False) for name in EXAMPLES} | {("CustomerSupport", True)}
    for result in summary["results"]:
        assert result["events"] > 0 and result["replayed"] > 0
        assert all(c["error"] is None for c in result["connections"])
    # Context variables: a snapshot when a run first changes them, JSON Patch deltas after that.
    assert sum(r["snapshots"] for r in summary["results"]) > 0
    assert sum(r["state_deltas"] for r in summary["results"]) > 0
    # Streamed text reached the AG-UI connections as TEXT_MESSAGE_CONTENT before the stored messages.
    assert sum(r["deltas"] for r in summary["results"]) > 0
    reconnected = results[("CustomerSupport", True)]
    assert len(reconnected["connections"]) == 2 and 0 < reconnected["cut_at"] < reconnected["last_seq"]
    assert reconnected["compared"] > 0  # stored events after the cut, equal to the replay's


def test_the_verifier_refuses_a_stream_with_a_text_message_left_open(
    server: RunningServer, node_project: Path, tmp_path: Path
) -> None:
    summary = _verify(server, [_workflow_config("CustomerSupport")], tmp_path, AGUI_BREAK="drop_text_end")
    assert not summary["ok"] and summary["exit"] == 1
    assert "while text messages are still active" in summary["failed"], summary["failed"]

"""``mozaiks run``: offline runs of the examples from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from engine_kit import EXAMPLES

from runtime_core.cli import build_parser
from runtime_core.commands.run import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, run


def _run(argv: list[str]) -> tuple[int, str]:
    args = build_parser().parse_args(["run", *argv])
    out = io.StringIO()
    return run(args, out=out), out.getvalue()


def test_run_example_offline_prints_the_run_and_writes_a_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    transcript = tmp_path / "t.json"

    code, output = _run(["ContentReview", "--transcript", str(transcript)])

    assert code == EXIT_OK
    assert "on the scripted model" in output
    assert "[Writer] Meet SunSip" in output and "[Critic] 1." in output
    assert 'ReviewVerdict: {"decision": "revise"' in output
    assert "■ completed after 3 steps, 4 messages; usage: 3 calls" in output
    saved = json.loads(transcript.read_text())
    assert saved["status"] == "completed"
    assert [m["speaker"] for m in saved["messages"]] == ["_User", "Writer", "Critic", "Editor"]
    assert [e["seq"] for e in saved["events"]] == list(range(1, len(saved["events"]) + 1))


def test_messages_from_the_command_line_come_before_the_script_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)

    code, output = _run(["workflows/CustomerSupport", "--message", "Is A300 delivered?"])

    assert code == EXIT_OK
    user_lines = [line.strip() for line in output.splitlines() if line.strip().startswith("[user]")]
    assert user_lines[:2] == ["[user] Is A300 delivered?", "[user] Hi, where is my order A100?"]
    assert "⇢ handoff SupportAgent → EscalationAgent (llm: transfer_to_EscalationAgent_1)" in output
    assert "run completed: EscalationAgent said '[case closed]'" in output


def test_unknown_workflow_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _run(["NoSuchFlow"])
    assert code == EXIT_NOT_FOUND and "no workflow 'NoSuchFlow'" in output


def test_a_broken_workflow_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "Broken"
    shutil.copytree(EXAMPLES / "ContentReview", broken)
    agents = broken / "agents.yaml"
    agents.write_text(agents.read_text().replace("name: Critic", "name: Writer", 1))
    code, output = _run([str(broken)])
    assert code == EXIT_ERROR, output
    assert "error: " in output and "agents.yaml:" in output and "Traceback" not in output

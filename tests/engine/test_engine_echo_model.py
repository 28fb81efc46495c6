"""The echo model: any valid workflow runs offline without a key or a script, deterministically.

Planner (tests/workflow/original/Planner) has an auto_tool_mode agent: the echo model's structured output
validates and saves the plan through the tool. HelpDesk brings user messages (echoed back), hidden agents with
a structured output and a model-judged rule from the user (which never fires on the echo model). Each runs
one step per fresh process exactly as uninterrupted. A script with ``fallback: echo`` holds only the replies
that matter; the echo model answers the rest.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_kit import agent, comparable, events_of, write_workflow

from runtime_core.cli import build_parser
from runtime_core.commands.run import EXIT_NOT_FOUND, EXIT_OK, run
from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.llm.choice import choose_provider
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.meter import EXTENSION
from runtime_core.llm.provider import ModelConfigError, OpenAIModel
from runtime_core.llm.script import ScriptedUserInput, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus
from runtime_core.workflow import load_workflow

ORIGINAL = Path(__file__).resolve().parents[1] / "workflow" / "original"
INPUTS = ["My invoice is wrong", "Please refund the extra charge"]


def _run(carry: Carry, name: str) -> Any:
    inputs = [ScriptedUserInput(text=t) for t in INPUTS]
    return drive(load_workflow(ORIGINAL / name), EchoModel(), scripted_inputs(inputs), carry=carry)


def test_choice_unknown_model_names_are_refused_and_scripted_needs_a_script(tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf", agents=[agent("A")], startup_mode="agent_first")
    with pytest.raises(ModelConfigError, match=r"unknown model 'gpt-9'.*echo"):
        choose_provider(workflow, environ={"MOZAIKS_MODEL": "gpt-9"})
    with pytest.raises(ModelConfigError, match=r"scripted model needs script\.yaml"):
        choose_provider(workflow, environ={}, model="scripted")
    # No key and no script: the echo model; asked for, it wins over a key and a script.
    assert type(choose_provider(workflow, environ={})) is EchoModel
    (workflow.root / "script.yaml").write_text("replies: {A: [y]}\n")
    key = {"OPENAI_API_KEY": "sk-" + "k" * 48}
    assert type(choose_provider(workflow, environ={})) is ScriptedModel
    assert type(choose_provider(workflow, environ=key)) is OpenAIModel
    assert type(choose_provider(workflow, environ={**key, "MOZAIKS_MODEL": "echo"})) is EchoModel
    assert type(choose_provider(workflow, environ=key, model="echo")) is EchoModel


def test_a_structured_output_is_valid_and_its_auto_tool_runs() -> None:
    run = _run(Carry.memory, "Planner")

    assert run.state.status == SessionStatus.completed
    [output] = events_of(run, "structured_output")
    assert output.agent == "Planner" and output.data == {"title": "title", "stepList": ["stepList"]}
    assert not events_of(run, "error")
    [result] = [e for e in events_of(run, "tool_result") if e.name == "save_plan"]
    assert result.content == "saved 'title' with 1 steps"
    [reviewer] = [m for m in run.messages if m.speaker == "Reviewer"]
    assert reviewer.content == "[echo] Reviewer replied (offline echo model, no API key)."
    # Usage is counted, reported under the echo model's name, and free.
    assert run.state.usage.calls == 2 and run.state.usage.prompt_tokens > 0
    assert run.state.usage.cost == 0.0
    assert {json.loads(r.body)["model"] for r in run.model_requests} == {"gpt-4o-mini"}


def test_user_messages_are_echoed_and_no_tool_or_model_judged_rule_fires() -> None:
    run = _run(Carry.memory, "HelpDesk")

    # Waits for a third message nobody gave: the Classifier's model-judged rule never fires offline.
    assert run.state.status == SessionStatus.awaiting_input
    spoken = [(m.speaker, m.content) for m in run.messages if m.role == "assistant" and m.content]
    assert spoken[0][0] == "Greeter" and spoken[0][1].startswith("[echo] Greeter received: Greeter, welcome")
    classified = [m.content for m in run.messages if m.speaker == "Classifier"]
    assert classified and all(json.loads(c)["category"] == "billing" for c in classified)
    assert not [e for e in events_of(run, "tool_call") if e.agent != "Classifier"]
    assert not events_of(run, "error")


@pytest.mark.parametrize("name", ["Planner", "HelpDesk"])
def test_one_step_per_fresh_process_equals_uninterrupted(name: str) -> None:
    in_memory = _run(Carry.memory, name)
    fresh = _run(Carry.process, name)

    assert fresh.steps == in_memory.steps >= 2
    assert comparable(fresh) == comparable(in_memory)


def test_auto_speaker_selection_goes_round_the_candidates(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path / "wf",
        agents=[agent("Ann"), agent("Bob")],
        orchestration_strategy="auto",
        human_in_the_loop=True,
        startup_mode="user_first",
        max_turns=6,
    )
    model = EchoModel()
    inputs = [ScriptedUserInput(text="hello"), ScriptedUserInput(text="again")]
    run = drive(workflow, model, scripted_inputs(inputs))

    # Ann opens (the initial agent); the manager then names the candidate after the last speaker: Bob, then
    # the user (AG2's tool executor, also offered, is never named). After the user, AG2 goes back to Bob.
    said = [(m.speaker, m.content) for m in run.messages]
    assert said == [
        ("user", "hello"),
        ("Ann", "[echo] Ann received: hello"),
        ("Bob", "[echo] Bob replied (offline echo model, no API key)."),
        ("user", "again"),
        ("Bob", "[echo] Bob received: again"),
    ]
    assert [e.agent for e in events_of(run, "speaker_selected")] == ["Ann", "Bob", "Bob"]
    assert [r.agent for r in model.requests].count("speaker_selection") == 3
    assert run.state.status == SessionStatus.awaiting_input and not events_of(run, "error")


def _cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return run(build_parser().parse_args(["run", *argv]), out=out), out.getvalue()


def test_mozaiks_run_without_key_or_script_says_it_runs_on_the_echo_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MOZAIKS_MODEL", raising=False)
    folder = tmp_path / "Intake"
    workflow = write_workflow(
        folder,
        agents=[agent("Interviewer")],
        handoffs=[{"from_agent": "Interviewer", "to_agent": "user", "condition_type": "after_work"}],
        human_in_the_loop=True,
        startup_mode="user_first",
    )
    assert not (workflow.root / "script.yaml").exists()

    code, output = _cli([str(folder), "--message", "a todo app"])

    assert code == EXIT_OK
    assert output.splitlines()[0].startswith("▶ T on the echo model (offline and deterministic")
    assert "[Interviewer] [echo] Interviewer received: a todo app" in output
    assert "$0.000000 (echo model)" in output
    code, output = _cli([str(folder), "--model", "scripted"])
    assert code == EXIT_NOT_FOUND and "needs script.yaml" in output


def _answer(model: EchoModel, agent: str, messages: list[dict[str, Any]]) -> str:
    request = httpx.Request(
        "POST", "https://api.openai.com/v1/chat/completions", json={"model": "m", "messages": messages}
    )
    request.extensions[EXTENSION] = {"agent": agent, "purpose": "speaker_selection", "call": 0}
    response = model.transport().handle_request(request)
    return str(json.loads(response.read())["choices"][0]["message"]["content"])


def test_the_manager_never_names_the_tool_executor_and_wraps_round() -> None:
    ask = "Read the above conversation. Then select the next role from {} to play. Only return the role."
    offered = "['_Group_Tool_Executor', 'Ann', 'Bob', 'user']"
    model = EchoModel()

    def pick(last: str | None) -> str:
        said = [{"role": "user", "name": last, "content": "hi"}] if last else []
        return _answer(
            model, "speaker_selection", [*said, {"role": "system", "content": ask.format(offered)}]
        )

    assert [pick(n) for n in ("Ann", "Bob", "user", "_Group_Tool_Executor", None)] == [
        "Bob",
        "user",
        "Ann",
        "Ann",
        "Ann",
    ]
    # No list to read: the user speaks next (the run waits for input rather than guessing an agent).
    assert _answer(model, "speaker_selection", [{"role": "system", "content": "choose"}]) == "user"


def _planner_with(tmp_path: Path, script: str) -> tuple[Any, Path]:
    script_path = tmp_path / "script.yaml"
    script_path.write_text(script)
    return load_workflow(ORIGINAL / "Planner"), script_path


def test_a_script_without_fallback_still_fails_where_it_ends(tmp_path: Path) -> None:
    workflow, script_path = _planner_with(tmp_path, "replies: {Reviewer: ['The plan is complete.']}\n")
    run = drive(workflow, ScriptedModel(load_script(script_path)), scripted_inputs([]))
    [error] = events_of(run, "error")
    assert error.code == "script_exhausted" and "'Planner', call #1" in error.message


@pytest.mark.parametrize("carry", [Carry.memory, Carry.process])
def test_a_script_with_fallback_echo_holds_only_the_replies_that_matter(tmp_path: Path, carry: Carry) -> None:
    script = "fallback: echo\nreplies: {Reviewer: ['The plan is complete.']}\n"
    workflow, script_path = _planner_with(tmp_path, script)
    model = ScriptedModel(load_script(script_path))
    run = drive(workflow, model, scripted_inputs([]), carry=carry, script_path=script_path)

    assert run.state.status == SessionStatus.completed and not events_of(run, "error")
    [output] = events_of(run, "structured_output")  # the Planner's reply: the echo model's
    assert output.data == {"title": "title", "stepList": ["stepList"]}
    assert [m.content for m in run.messages if m.speaker == "Reviewer"] == ["The plan is complete."]
    if carry == Carry.process:
        uninterrupted = drive(workflow, ScriptedModel(load_script(script_path)), scripted_inputs([]))
        assert comparable(run) == comparable(uninterrupted)

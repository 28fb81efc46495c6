"""The real-model provider: key from the named variable, requests as a real endpoint sees them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from engine_kit import agent, write_workflow

from runtime_core.engine.step import run_step
from runtime_core.llm.choice import choose_provider
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import OpenAIModel
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, new_session
from runtime_core.workflow import Workflow

KEY = "sk-" + "k" * 48


def _one_agent(root: Path) -> Workflow:
    return write_workflow(
        root,
        agents=[agent("A", llm_config={"model": "gpt-4o", "base_url": "https://llm.example.test/v1"})],
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
        llm_config={"model": "gpt-4o-mini", "api_key_env": "TEAM_KEY"},
    )


def test_missing_key_names_the_variable(tmp_path: Path) -> None:
    workflow = _one_agent(tmp_path)
    result = run_step(new_session(workflow, "s"), workflow, OpenAIModel(environ={}))
    [started, error] = result.events
    assert started.type == "run_started"
    assert (error.code, error.recoverable) == ("model_config_error", True)
    assert "TEAM_KEY" in error.message and result.error_code == "model_config_error"


def test_requests_carry_the_key_and_url_but_not_the_engine_headers(tmp_path: Path) -> None:
    workflow = _one_agent(tmp_path)
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.read())
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
                ],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
            },
        )

    provider = OpenAIModel(max_retries=0, environ={"TEAM_KEY": KEY})
    provider._pool = httpx.MockTransport(endpoint)  # the endpoint, in place of the network
    result = run_step(new_session(workflow, "s"), workflow, provider)

    [request] = seen
    assert str(request.url) == "https://llm.example.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert not any(name.startswith("x-mozaiks") for name in request.headers)
    assert json.loads(request.content)["model"] == "gpt-4o"
    [usage] = result.usage
    assert (usage.agent, usage.model, usage.prompt_tokens, usage.completion_tokens) == (
        "A",
        "gpt-4o",
        1000,
        100,
    )
    assert usage.cost > 0
    assert result.state.status == SessionStatus.completed


def test_in_tests_a_real_endpoint_is_unreachable(tmp_path: Path) -> None:
    workflow = _one_agent(tmp_path)
    provider = OpenAIModel(max_retries=0, environ={"TEAM_KEY": KEY})
    blocked = run_step(new_session(workflow, "s"), workflow, provider)
    assert [e.type for e in blocked.events] == ["run_started", "error"]
    assert blocked.error_code == "model_error"
    assert blocked.state.messages == []


def test_provider_choice_prefers_an_explicit_script_then_a_key_then_the_workflow_script(
    tmp_path: Path,
) -> None:
    workflow = _one_agent(tmp_path / "wf")
    other = tmp_path / "other.yaml"
    other.write_text("replies: {A: [x]}\n")

    # Neither a key nor a script: the offline echo model (tests/engine/test_engine_echo_model.py).
    assert type(choose_provider(workflow, environ={})) is EchoModel
    assert isinstance(choose_provider(workflow, environ={"TEAM_KEY": KEY}), OpenAIModel)
    (workflow.root / "script.yaml").write_text("replies: {A: [y]}\n")
    own = choose_provider(workflow, environ={})
    assert isinstance(own, ScriptedModel) and own.script.replies["A"][0].content == "y"
    explicit = choose_provider(workflow, other, environ={"TEAM_KEY": KEY})
    assert isinstance(explicit, ScriptedModel) and explicit.script.replies["A"][0].content == "x"

"""Helpers for the engine tests: small workflows written to tmp dirs, scripted runs, comparable views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from runtime_core.engine.driver import Carry, Run, drive, scripted_inputs
from runtime_core.llm.provider import ModelProvider
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import new_session
from runtime_core.workflow import Workflow, load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "workflows"
LLM = {"model": "gpt-4o-mini"}


def agent(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "system_message": f"You are {name}.", "description": f"{name} agent", **extra}


def write_workflow(
    root: Path,
    *,
    agents: list[dict[str, Any]],
    handoffs: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_source: str | None = None,
    context: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    **orchestrator: Any,
) -> Workflow:
    root.mkdir(parents=True, exist_ok=True)
    settings = {"workflow_name": "T", "llm_config": LLM, **orchestrator}
    files: dict[str, Any] = {"orchestrator.yaml": settings, "agents.yaml": {"agents": agents}}
    if handoffs is not None:
        files["handoffs.yaml"] = {"handoffs": handoffs}
    if tools is not None:
        files["tools.yaml"] = {"tools": tools}
    if context is not None:
        files["context_variables.yaml"] = {"context_variables": context}
    if outputs is not None:
        files["structured_outputs.yaml"] = {"models": outputs}
    for name, data in files.items():
        (root / name).write_text(yaml.safe_dump(data, sort_keys=False))
    if tool_source is not None:
        (root / "tools").mkdir(exist_ok=True)
        (root / "tools" / "kit.py").write_text(tool_source)
    return load_workflow(root)


def play(
    workflow: Workflow, script: dict[str, Any] | Script, carry: Carry = Carry.memory
) -> tuple[Run, ScriptedModel]:
    parsed = script if isinstance(script, Script) else Script.model_validate(script)
    model = ScriptedModel(parsed)
    run = drive(workflow, model, scripted_inputs(list(parsed.user_inputs)), carry=carry)
    return run, model


def run_on_script(
    workflow: Workflow,
    script_path: Path,
    carry: Carry = Carry.memory,
    *,
    session_id: str = "local-session",
    tenant: tuple[str, str] | None = None,
    inputs: list[Any] | None = None,
) -> Run:
    """``workflow`` on the script at ``script_path`` (its replies, and its user inputs unless ``inputs`` are
    given) until it ends or waits; ``tenant`` (app_id, user_id) is the verified tenant of the session (the
    runtime context tools see)."""
    script = load_script(script_path)
    state = None
    if tenant is not None:
        state = new_session(workflow, session_id, app_id=tenant[0], user_id=tenant[1])
    return drive(
        workflow,
        ScriptedModel(script),
        scripted_inputs(list(script.user_inputs) if inputs is None else inputs),
        carry=carry,
        session_id=session_id,
        state=state,
        script_path=script_path,
    )


def example(name: str) -> tuple[Workflow, Path]:
    workflow = load_workflow(EXAMPLES / name)
    return workflow, workflow.root / "script.yaml"


def speakers(run: Run) -> list[str]:
    return [m.speaker for m in run.messages]


def comparable(run: Run) -> dict[str, Any]:
    """Everything two equivalent runs must share (timestamps aside)."""
    return {
        "transcript": [
            (
                m.seq,
                m.speaker,
                m.role,
                m.content,
                [c.model_dump() for c in m.tool_calls],
                m.tool_call_id,
                m.raw,
            )
            for m in run.messages
        ],
        "context": run.state.context_variables,
        "status": run.state.status,
        "next_speaker": run.state.next_speaker,
        "engine": run.state.engine,
        "events": [e.model_dump(mode="json", exclude={"ts"}) for e in run.events],
        "requests": [(r.agent, r.purpose, r.call, r.url, r.body) for r in run.model_requests],
    }


def events_of(run: Run, kind: str) -> list[Any]:
    return [e for e in run.events if e.type == kind]


class FailingModel(ModelProvider):
    """An endpoint that answers every call with a server error (after the client's retries)."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def transport(self) -> httpx.BaseTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return httpx.Response(503, json={"error": {"message": "overloaded", "type": "server_error"}})

        return httpx.MockTransport(handle)

    def api_key(self, key_env: str | None) -> str:
        return "sk-" + "x" * 48


# ---- a workflow whose tools change context in place (as published MozaiksAI tools do: no ReplyResult) ----
CONTEXT_TOOLS = '''
import json
from typing import Any

RUNTIME = ["app_id", "user_id", "session_id", "chat_id", "workflow_name"]


def note(item: str, context_variables: Any = None) -> str:
    """Note an item."""
    context_variables.set("stage", "noted")
    context_variables["count"] = context_variables.get("count", 0) + 1
    context_variables.data["items"] = [*context_variables.get("items", []), item]
    return f"noted {item}"


def report(context_variables: Any = None) -> str:
    """Report what the context holds."""
    keys = ["stage", "count", "items", *RUNTIME]
    return json.dumps({k: context_variables.get(k) for k in keys})


def grab(context_variables: Any = None) -> str:
    """Try to change who the session belongs to."""
    context_variables.set("app_id", "other-app")
    context_variables.data["user_id"] = "someone-else"
    context_variables["chat_id"] = "another-chat"
    return "grabbed"
'''

CONTEXT_SCRIPT: dict[str, Any] = {
    "replies": {
        "A": [
            {"tool_calls": [{"name": "note", "arguments": {"item": "pen"}}]},
            {"tool_calls": [{"name": "note", "arguments": {"item": "ink"}}]},
            "Noted twice.",
        ],
        "B": [{"tool_calls": [{"name": "report", "arguments": {}}]}, "Reported."],
    }
}


def context_tools_workflow(root: Path) -> Workflow:
    """A notes in place (twice), hands to B on ``${count} > 1`` after its reply; B reports what it sees."""
    tool = {"file": "tools/kit.py"}
    return write_workflow(
        root,
        agents=[agent("A", tools=["note", "grab"]), agent("B", tools=["report"])],
        tools=[
            {"name": "note", "function": "note", **tool},
            {"name": "report", "function": "report", **tool},
            {"name": "grab", "function": "grab", **tool},
        ],
        tool_source=CONTEXT_TOOLS,
        context=[
            {"name": "stage", "type": "str", "default": "new"},
            {"name": "count", "type": "int", "default": 0},
            {"name": "items", "type": "list", "default": []},
        ],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "expression": "${count} > 1", "evaluate": "after_reply"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
    )

"""Tools written for the original MozaiksAI runtime: its helper modules, and waiting for the UI mid-tool.

Such a tool imports ``use_ui_tool`` (``mozaiksai.core.workflow.outputs.ui_tools``), a workflow logger
(``logs.logging_config``) and modules of its own workflow (``workflows.<Name>.tools.x``), and awaits the
user's answer in the middle of its body. A step is stateless, so the step ends at the wait (an
``input_request`` goes to the client) and the next step runs the tool again from the start, the recorded
answer returned at that point: deterministic replay.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_kit import agent, comparable, events_of, run_on_script, write_workflow

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus
from runtime_core.workflow import Workflow

KEYS_TOOL = '''
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from logs.logging_config import get_workflow_logger
from mozaiksai.core.workflow.outputs.ui_tools import UIToolError, use_ui_tool
from runtime_core.tools import current_tool_call
from workflows.KeyFlow.tools.helpers import label

# Loaded modules are cached by workflow content: {root} tells the workflows of two tests apart.
EFFECTS = Path("{root}") / "effects.jsonl"


def _effect(what: str) -> None:
    with EFFECTS.open("a") as out:
        out.write(json.dumps([what, current_tool_call().idempotency_key]) + "\\n")


async def collect_keys(
    service: Annotated[str, "Service that needs a key"], context_variables: Any = None
) -> dict[str, Any]:
    """Ask the user for an API key, then for a confirmation."""
    chat_id = context_variables.get("chat_id")
    workflow_name = context_variables.get("workflow_name")
    log = get_workflow_logger(workflow_name=workflow_name, chat_id=chat_id)
    _effect("before the first wait")
    try:
        first = await use_ui_tool(
            "AgentAPIKeyInput", {"service": service}, chat_id=chat_id, workflow_name=workflow_name
        )
    except UIToolError as exc:
        return {"status": "error", "message": str(exc)}
    except Exception:  # a broad guard in the tool must not swallow the wait
        return {"status": "swallowed"}
    context_variables.set("key_status", first.get("status"))
    second = await use_ui_tool(
        "ConfirmBox", {"question": f"Save the {label(service)} key?"}, chat_id=chat_id,
        workflow_name=workflow_name, display="inline",
    )
    _effect("after the last wait")
    log.info("collected %s", service)
    return {"status": "complete", "key_length": len(first["data"]["apiKey"]), "saved": second["ok"],
            "event": first["ui_event_id"]}
'''

HELPERS = """
def label(service: str) -> str:
    return service.upper()
"""

SCRIPT: dict[str, Any] = {
    "user_inputs": [
        {"answer": {"status": "success", "data": {"apiKey": "sk-12345"}}},
        {"answer": {"ok": True}},
    ],
    "replies": {
        "A": [{"tool_calls": [{"name": "collect_keys", "arguments": {"service": "openai"}}]}, "Done."]
    },
}


def _workflow(root: Path) -> Workflow:
    (root / "tools").mkdir(parents=True, exist_ok=True)
    (root / "tools" / "helpers.py").write_text(HELPERS)
    return write_workflow(
        root,
        workflow_name="KeyFlow",
        agents=[agent("A", tools=["collect_keys"])],
        tools=[
            {
                "name": "collect_keys",
                "file": "tools/kit.py",
                "function": "collect_keys",
                "ui": {"component": "AgentAPIKeyInput", "mode": "artifact"},
            }
        ],
        tool_source=KEYS_TOOL.replace("{root}", str(root / "tools")),
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )


def _run(root: Path, carry: Carry):
    workflow = _workflow(root)
    script_path = root / "script.yaml"
    script_path.write_text(yaml.safe_dump(SCRIPT))
    return run_on_script(workflow, script_path, carry, session_id="wait-session", tenant=("acme", "u-1"))


def _effects(root: Path) -> list[list[str]]:
    path = root / "tools" / "effects.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_tool_that_waits_for_the_ui_ends_its_step_and_is_replayed_with_the_answers(tmp_path: Path) -> None:
    root = tmp_path / "KeyFlow"
    run = _run(root, Carry.memory)

    assert run.state.status == SessionStatus.completed
    requests = [e.request for e in events_of(run, "input_request")]
    assert [(r.kind, r.tool_name, r.component, r.display, r.ui) for r in requests] == [
        ("ui_tool", "collect_keys", "AgentAPIKeyInput", "artifact", {"service": "openai"}),
        ("ui_tool", "collect_keys", "ConfirmBox", "inline", {"question": "Save the OPENAI key?"}),
    ]
    assert requests[0].tool_call_id == requests[1].tool_call_id
    assert requests[0].arguments == {"service": "openai"}
    assert len({r.request_id for r in requests}) == 2
    [result] = events_of(run, "tool_result")
    assert not result.is_error
    assert json.loads(result.content) == {
        "status": "complete",
        "key_length": 8,
        "saved": True,
        "event": requests[0].request_id,
    }
    # What the tool set in place before its second wait survived the replay.
    assert run.state.context_variables["key_status"] == "success"
    # The code before a wait runs once per step that reaches it: three times here, always with the same key.
    effects = _effects(root)
    assert [what for what, _ in effects] == ["before the first wait"] * 3 + ["after the last wait"]
    assert len({key for _, key in effects}) == 1
    # Nothing of a paused run reaches the transcript: one tool result, after the last answer.
    assert [m.role for m in run.messages] == ["user", "assistant", "tool", "assistant"]
    assert run.state.engine.get("ui_answers") is None


@pytest.mark.usefixtures("engine_mode")
def test_replayed_waits_resume_exactly_through_json(tmp_path: Path) -> None:
    in_memory = _run(tmp_path / "m" / "KeyFlow", Carry.memory)
    through_json = _run(tmp_path / "j" / "KeyFlow", Carry.json)

    assert comparable(through_json) == comparable(in_memory)


def test_replayed_waits_resume_exactly_in_fresh_processes(tmp_path: Path) -> None:
    in_memory = _run(tmp_path / "m" / "KeyFlow", Carry.memory)
    fresh = _run(tmp_path / "p" / "KeyFlow", Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)
    assert [w for w, _ in _effects(tmp_path / "p" / "KeyFlow")] == [
        w for w, _ in _effects(tmp_path / "m" / "KeyFlow")
    ]


def test_use_ui_tool_outside_a_tool_run_is_a_clear_error() -> None:
    from runtime_core.compat import install

    install()
    from mozaiksai.core.workflow.outputs.ui_tools import UIToolError, use_ui_tool

    with pytest.raises(UIToolError, match="only inside a tool"):
        asyncio.run(use_ui_tool("AgentAPIKeyInput", {}, chat_id=None, workflow_name="KeyFlow"))


def test_the_original_helper_modules_load_under_their_names() -> None:
    import importlib

    from runtime_core.compat import install

    install()
    names = {
        "mozaiksai.core.workflow.outputs.ui_tools": [
            "use_ui_tool",
            "UIToolError",
            "emit_tool_progress_event",
        ],
        "core.workflow.outputs.ui_tools": ["use_ui_tool", "UIToolError"],
        "core.workflow.ui_tools": ["use_ui_tool", "UIToolError"],
        "logs.logging_config": ["get_workflow_logger"],
        "logs.tools_logs": ["get_tool_logger", "log_tool_event"],
        "mozaiksai.core.transport.simple_transport": ["SimpleTransport"],
        "mozaiksai.core.data.persistence.persistence_manager": [
            "AG2PersistenceManager",
            "PersistenceManager",
        ],
        "mozaiksai.core.core_config": ["get_mongo_client"],
        "mozaiks_infra.utils.log_sanitizer": ["sanitize_for_log"],
    }
    for module_name, attributes in names.items():
        module = importlib.import_module(module_name)
        assert all(callable(getattr(module, a)) for a in attributes), module_name


PICKERS = '''
def pick_date(title: str) -> dict:
    """Ask for a date."""
    return {"title": title}


def pick_date_result(answer: dict) -> str:
    return f"date {answer['date']}"


def pick_seat(cabin: str) -> dict:
    """Ask for a seat."""
    return {"component": "SeatMap", "cabin": cabin}


def pick_seat_result(answer: dict) -> str:
    return f"seat {answer['seat']}"
'''

TWO_UI_SCRIPT: dict[str, Any] = {
    "user_inputs": [{"answer": {"date": "2026-06-05"}}, {"answer": {"seat": "12A"}}],
    "replies": {
        "A": [
            {
                "tool_calls": [
                    {"name": "pick_date", "arguments": {"title": "When?"}},
                    {"name": "pick_seat", "arguments": {"cabin": "economy"}},
                ]
            },
            "All set.",
        ]
    },
}


def _two_ui(root: Path, carry: Carry):
    ui_tool = {"file": "tools/kit.py", "kind": "ui"}
    workflow = write_workflow(
        root,
        agents=[agent("A", tools=["pick_date", "pick_seat"])],
        tools=[
            {
                "name": "pick_date",
                "function": "pick_date",
                "ui": {"component": "DatePicker", "mode": "artifact"},
                **ui_tool,
            },
            {"name": "pick_seat", "function": "pick_seat", **ui_tool},
        ],
        tool_source=PICKERS,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script_path = root / "script.yaml"
    script_path.write_text(yaml.safe_dump(TWO_UI_SCRIPT))
    return run_on_script(workflow, script_path, carry)


def test_every_ui_tool_a_reply_calls_is_asked_in_turn_with_its_component_and_display(tmp_path: Path) -> None:
    run = _two_ui(tmp_path, Carry.memory)

    requests = [e.request for e in events_of(run, "input_request")]
    assert [(r.tool_name, r.component, r.display, r.ui) for r in requests] == [
        ("pick_date", "DatePicker", "artifact", {"title": "When?"}),
        ("pick_seat", "SeatMap", "inline", {"component": "SeatMap", "cabin": "economy"}),
    ]
    assert len({r.request_id for r in requests}) == 2
    results = {e.name: e.content for e in events_of(run, "tool_result")}
    assert results == {"pick_date": "date 2026-06-05", "pick_seat": "seat 12A"}
    assert run.state.status == SessionStatus.completed and run.messages[-1].content == "All set."


@pytest.mark.usefixtures("engine_mode")
def test_several_ui_tools_of_one_reply_resume_exactly_through_json(tmp_path: Path) -> None:
    in_memory = _two_ui(tmp_path / "m", Carry.memory)
    through_json = _two_ui(tmp_path / "j", Carry.json)

    assert comparable(through_json) == comparable(in_memory)


def test_several_ui_tools_of_one_reply_resume_exactly_in_fresh_processes(tmp_path: Path) -> None:
    in_memory = _two_ui(tmp_path / "m", Carry.memory)
    fresh = _two_ui(tmp_path / "p", Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)


MIXED = '''
from runtime_core.tools import ask_ui


def pick_date(title: str) -> dict:
    """Ask for a date."""
    return {"title": title}


def confirm(amount: int) -> str:
    """Confirm a payment with the user, mid-body."""
    answer = ask_ui("ConfirmBox", {"amount": amount})
    return f"confirmed {amount}: {answer['ok']}"
'''

MIXED_SCRIPT: dict[str, Any] = {
    "user_inputs": [{"answer": {"date": "2026-06-05"}}, {"answer": {"ok": True}}],
    "replies": {
        "A": [
            {
                "tool_calls": [
                    {"name": "pick_date", "arguments": {"title": "When?"}},
                    {"name": "confirm", "arguments": {"amount": 40}},
                ]
            },
            "Booked.",
        ]
    },
}


def _mixed(root: Path, carry: Carry):
    workflow = write_workflow(
        root,
        agents=[agent("A", tools=["pick_date", "confirm"])],
        tools=[
            {"name": "pick_date", "file": "tools/kit.py", "function": "pick_date", "kind": "ui"},
            {"name": "confirm", "file": "tools/kit.py", "function": "confirm"},
        ],
        tool_source=MIXED,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script_path = root / "script.yaml"
    script_path.write_text(yaml.safe_dump(MIXED_SCRIPT))
    return run_on_script(workflow, script_path, carry)


def test_a_reply_with_a_ui_tool_and_a_tool_that_waits_asks_both_then_goes_on(tmp_path: Path) -> None:
    run = _mixed(tmp_path, Carry.memory)

    assert run.state.status == SessionStatus.completed and run.messages[-1].content == "Booked."
    requests = [e.request for e in events_of(run, "input_request")]
    assert [(r.tool_name, r.component) for r in requests] == [("pick_date", None), ("confirm", "ConfirmBox")]
    results = {e.name: e.content for e in events_of(run, "tool_result")}
    assert results == {"pick_date": '{"date": "2026-06-05"}', "confirm": "confirmed 40: True"}


@pytest.mark.usefixtures("engine_mode")
def test_a_reply_with_a_ui_tool_and_a_tool_that_waits_resumes_exactly(tmp_path: Path) -> None:
    assert comparable(_mixed(tmp_path / "j", Carry.json)) == comparable(_mixed(tmp_path / "m", Carry.memory))


def test_a_ui_tool_and_a_waiting_tool_of_one_reply_resume_exactly_in_fresh_processes(
    tmp_path: Path,
) -> None:
    in_memory = _mixed(tmp_path / "m", Carry.memory)
    fresh = _mixed(tmp_path / "p", Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)


def test_platform_services_load_and_fail_clearly_when_used() -> None:
    from runtime_core.compat import install

    install()
    from mozaiks_infra.utils.log_sanitizer import sanitize_for_log
    from mozaiks_platform.subscription_manager import subscription_manager
    from mozaiksai.core.data.persistence.persistence_manager import AG2PersistenceManager, PersistenceManager

    assert sanitize_for_log("a\nb") == "a\\nb" and len(sanitize_for_log("x" * 900)) == 503
    with pytest.raises(RuntimeError, match=r"subscription_manager\.get_available_plans is a service of"):
        subscription_manager.get_available_plans()
    with pytest.raises(RuntimeError, match=r"AG2PersistenceManager\.gather_latest_agent_jsons"):
        AG2PersistenceManager().gather_latest_agent_jsons()
    # mozaiks-core's ValueEngine tool imports the base class (found by loading the published workflow).
    with pytest.raises(RuntimeError, match=r"PersistenceManager\.save_concept is a service of"):
        PersistenceManager(collection="concepts").save_concept({})

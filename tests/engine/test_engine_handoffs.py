"""Each kind of handoff: llm (a transfer tool call), context before and after the reply, after-work, user."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_kit import agent, comparable, events_of, play, speakers, write_workflow

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus

FLAG_TOOL = '''
from autogen.agentchat.group import ContextVariables, ReplyResult


def raise_flag(reason: str, context_variables: ContextVariables) -> ReplyResult:
    """Raise the flag."""
    context_variables["flag"] = True
    return ReplyResult(message=f"flag raised: {reason}", context_variables=context_variables)
'''
EXECUTOR = "_Group_Tool_Executor"


def test_llm_handoff_is_a_transfer_call_and_moves_the_turn(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B")],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition": "the user wants B"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
        initial_message="Hello",
        initial_agent="A",
    )
    run, model = play(workflow, {"replies": {"A": [{"handoff": "B"}], "B": ["B here."]}})

    assert speakers(run) == ["user", "A", EXECUTOR, "B"]
    assert run.messages[1].tool_calls[0].name == "transfer_to_B_1"
    handoffs = events_of(run, "handoff")
    assert [(h.from_agent, h.to, h.reason) for h in handoffs] == [
        ("A", "B", "llm: transfer_to_B_1"),
        ("B", "terminate", "after_work"),
    ]
    assert run.state.status == SessionStatus.completed
    assert events_of(run, "run_completed")[0].status == "completed"
    # The transfer function was offered to A's model with the condition as its description.
    assert '"the user wants B"' in model.requests[0].body


@pytest.mark.parametrize("evaluate", ["before_reply", "after_reply"])
def test_context_handoff_fires_on_the_context_a_tool_set(tmp_path: Path, evaluate: str) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["raise_flag"]), agent("B")],
        tools=[{"name": "raise_flag", "file": "tools/kit.py", "function": "raise_flag", "agents": ["A"]}],
        tool_source=FLAG_TOOL,
        context=[{"name": "flag", "type": "bool", "default": False}],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "expression": "${flag} == True", "evaluate": evaluate},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
        initial_agent="A",
    )
    script = {
        "replies": {
            "A": [{"tool_calls": [{"name": "raise_flag", "arguments": {"reason": "go"}}]}],
            "B": ["ok"],
        }
    }
    run, model = play(workflow, script)

    assert run.state.context_variables == {"flag": True}
    if evaluate == "before_reply":
        # AG2's own OnContextCondition: A's next turn is the transit message, without a model call.
        assert speakers(run) == ["user", "A", EXECUTOR, "A", "B"]
        assert run.messages[3].content == "[Handing off to B]"
        assert [h.reason for h in events_of(run, "handoff")] == ["context", "after_work"]
    else:
        # The engine checks after A's turn (tool results included) and B speaks next.
        assert speakers(run) == ["user", "A", EXECUTOR, "B"]
        assert [h.reason for h in events_of(run, "handoff")] == ["context: ${flag} == True", "after_work"]
    assert [r.agent for r in model.requests] == ["A", "B"]
    assert run.state.status == SessionStatus.completed


def test_after_work_chain_ends_at_terminate(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B")],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition_type": "after_work"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
    )
    run, _ = play(workflow, {"replies": {"A": ["a"], "B": ["b"]}})

    assert speakers(run) == ["user", "A", "B"]
    assert [(h.from_agent, h.to, h.reason) for h in events_of(run, "handoff")] == [
        ("A", "B", "after_work"),
        ("B", "terminate", "after_work"),  # the end is reported as the handoff it is
    ]
    assert events_of(run, "run_completed")[0].reason == "the workflow reached a terminate target"
    assert [e.type for e in run.events if e.type != "usage"][-2:] == ["handoff", "run_completed"]
    assert run.steps == 2


def test_content_review_reports_the_editors_handoff_to_the_end() -> None:
    from engine_kit import example

    from runtime_core.llm.script import load_script

    workflow, script_path = example("ContentReview")
    run, _ = play(workflow, load_script(script_path))
    handoffs = [(h.from_agent, h.to, h.reason) for h in events_of(run, "handoff")]
    assert handoffs[-1] == ("Editor", "terminate", "after_work")
    types = [e.type for e in run.events]
    assert types.index("run_completed") > len(types) - 1 - types[::-1].index("handoff")
    assert run.state.status == SessionStatus.completed


def test_handoff_to_user_waits_for_input_and_returns_to_the_agent(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A")],
        handoffs=[{"from_agent": "A", "to_agent": "user", "condition_type": "after_work"}],
        startup_mode="user_first",
    )
    script = {"user_inputs": ["hi", "again"], "replies": {"A": ["one", "two"]}}
    run, _ = play(workflow, script, carry=Carry.json)

    # Nobody answers the third request: the session waits, resumable.
    assert speakers(run) == ["user", "A", "user", "A"]
    assert run.state.status == SessionStatus.awaiting_input
    assert run.state.pending_input is not None and run.state.pending_input.kind == "user_turn"
    requests = events_of(run, "input_request")
    assert len(requests) == 3 and requests[-1].request.agent == "A"
    assert [m.text for m in events_of(run, "user_message")] == ["hi", "again"]
    assert comparable(run) == comparable(play(workflow, script)[0])


def test_only_visible_agents_messages_become_events(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B")],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition_type": "after_work"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
        visible_agents=["B"],
    )
    run, _ = play(workflow, {"replies": {"A": ["internal notes"], "B": ["for the user"]}})

    assert [(e.agent, e.content) for e in events_of(run, "agent_message")] == [("B", "for the user")]
    assert [m.content for m in run.messages[1:]] == ["internal notes", "for the user"]

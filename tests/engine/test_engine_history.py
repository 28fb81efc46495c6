"""The transcript is append-only: a step shares the messages on record and never changes them, nor lets AG2
change them (``runtime_core.engine.history``)."""

from __future__ import annotations

from pathlib import Path

from warm_kit import CASES, Session

from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.group import build_group
from runtime_core.engine.history import detach, fork
from runtime_core.engine.loading import load_engine
from runtime_core.engine.step import StepResult, run_step
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import ChatMessage, SessionState, new_session


def test_a_fork_shares_the_messages_and_copies_the_rest(tmp_path: Path) -> None:
    workflow, script = CASES["handoffs"](tmp_path)
    session = Session(workflow, script, "s")
    session.step()
    session.step()
    state = session.run.state
    state.context_variables["nested"] = {"list": [1]}

    count, calls = len(state.messages), state.engine["model_calls"]["A"]
    forked = fork(state)

    assert forked.model_dump() == state.model_dump()
    assert forked.model_fields_set == state.model_fields_set
    assert forked.messages is not state.messages
    assert all(a is b for a, b in zip(forked.messages, state.messages, strict=True))
    forked.messages.append(forked.messages[0])
    forked.context_variables["nested"]["list"].append(2)
    forked.engine["model_calls"]["A"] = 99
    forked.usage.calls = 99
    assert len(state.messages) == count and state.context_variables["nested"] == {"list": [1]}
    assert state.engine["model_calls"]["A"] == calls and state.usage.calls != 99


def test_steps_never_change_the_state_they_were_given(tmp_path: Path) -> None:
    for name, build in CASES.items():
        workflow, script = build(tmp_path / name)
        session = Session(workflow, script, "s")
        while not session.done:
            given = session.run.state
            before = given.model_dump_json()

            def checked(state: SessionState, *args: object) -> StepResult:
                result = run_step(state, *args)  # type: ignore[arg-type]
                # Old entries are shared (not copied) with the next state, and unchanged.
                assert all(a is b for a, b in zip(result.state.messages, state.messages, strict=False))
                return result

            session.step(checked)
            assert given.model_dump_json() == before, name


def test_ag2_changes_its_copy_of_a_replayed_reply_never_the_one_on_record(tmp_path: Path) -> None:
    load_engine()
    workflow, script = CASES["handoffs"](tmp_path)
    state = new_session(workflow, "s")
    model = ScriptedModel(script)
    group = build_group(compile_workflow(workflow), state, model, {"role": "user", "content": "Hello"})
    group.begin(state, CallMeter(model.transport(), {}, timeout=60))
    raw = {
        "role": "tool",
        "content": "",
        "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": None}],
    }
    record = ChatMessage(seq=0, speaker="_Group_Tool_Executor", role="tool", raw=raw, turn=0)
    before = record.model_dump_json()

    group.commit(group.executor, record.raw)

    # AG2 rewrote the tool response's None content to "" in what it was handed...
    assert group.groupchat.messages[-1]["tool_responses"][0]["content"] == ""
    # ...and the message on record is as it was.
    assert record.model_dump_json() == before


def test_a_detached_reply_is_an_equal_copy_that_shares_only_immutable_values() -> None:
    raw = {"content": "text", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}
    copied = detach(raw)
    assert copied == raw and copied is not raw
    assert copied["tool_calls"] is not raw["tool_calls"]
    assert copied["tool_calls"][0]["function"] is not raw["tool_calls"][0]["function"]
    assert detach("a plain reply") == "a plain reply"

"""``human_input_mode: TERMINATE`` (early original dialect) with AG2 0.14's meaning, in stateless steps.

AG2 asks a TERMINATE agent's human only when its replies in a row reached ``max_consecutive_auto_reply`` or
the message it received is a termination message (``check_termination_and_human_reply``). The engine ends the
step with a ``user_turn`` request naming the agent exactly then; the answer's step replays to the same point
and AG2 reads it: a text is the agent's reply (its count starts again), empty lets it reply itself (at its
limit: asked again next time), ``exit`` ends the chat.

``tests/engine/original/NoteDesk``: Editor (TERMINATE, limit 1) and Writer take turns; the user answers
Editor's three questions with empty, a text and ``exit``. ``engine.humanio.asks_human`` is checked against
AG2 itself for every case, the termination message included (which a group chat's manager ends the chat on
before any agent receives it, so no NoteDesk turn reaches that branch); a context handoff that holds goes
first, as AG2 runs it before its check, and nobody is asked (ALWAYS too).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from engine_kit import comparable, events_of, run_on_script, speakers

from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.engine.humanio import HumanInputNeeded, StepIO, asks_human
from runtime_core.llm.script import Script, ScriptedReply, ScriptedUserInput, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, new_session
from runtime_core.workflow import load_workflow
from runtime_core.workflow.loader import check_workflow_report

NOTEDESK = Path(__file__).parent / "original" / "NoteDesk"


def _run(carry: Carry, inputs: list[Any] | None = None):
    workflow = load_workflow(NOTEDESK)
    script_path = NOTEDESK / "script.yaml"
    return run_on_script(
        workflow, script_path, carry, session_id="nd-1", tenant=("acme", "u-7"), inputs=inputs
    )


def test_terminate_is_run_not_pending() -> None:
    result = check_workflow_report(NOTEDESK)
    assert result.workflow is not None

    assert [a.human_input_mode for a in result.workflow.agents] == ["NEVER", "TERMINATE"]
    assert not [w for w in result.warnings if w.field.endswith("human_input_mode")]


def test_editor_is_asked_only_at_its_limit_and_each_answer_means_what_ag2_makes_of_it() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    assert speakers(run) == ["user", *["Writer", "Editor"] * 4, "Writer"]
    requests = [e.request for e in events_of(run, "input_request")]
    # Asked before Editor's 2nd (limit 1 reached), 3rd (still at it: the empty answer counted a reply) and
    # 5th reply (the text answer started the count again; its 4th reply was its own), never before the 1st.
    assert [(r.kind, r.agent) for r in requests] == [("user_turn", "Editor")] * 3
    assert all(r.prompt.startswith("Replying as Editor") for r in requests)
    editor = [m.content for m in run.messages if m.speaker == "Editor"]
    assert editor == [
        "Mention the export feature.",
        "Add offline mode.",  # empty answer: Editor replied itself
        "Good enough, mention the fixed login bug too.",  # the answer is Editor's reply
        "Put the login fix last.",
    ]
    # exit: AG2 gives no reply and the chat ends there.
    done = events_of(run, "run_completed")[-1]
    assert (done.status, done.reason) == (
        "completed",
        "the user ended the conversation (exit) when asked as Editor",
    )
    # AG2 starts Editor's count again on exit, as on a text answer.
    assert run.state.engine["counters"] == {"Writer": {"chat_manager": 5}}


def test_exit_at_the_first_question_ends_the_chat_before_editor_replies() -> None:
    run = _run(Carry.memory, [ScriptedUserInput(text="exit")])

    assert run.state.status == SessionStatus.completed
    assert speakers(run) == ["user", "Writer", "Editor", "Writer"]
    assert (
        events_of(run, "run_completed")[-1].reason
        == "the user ended the conversation (exit) when asked as Editor"
    )


def test_without_an_answer_the_session_waits_for_the_editor_question() -> None:
    run = _run(Carry.memory, [])

    assert run.state.status == SessionStatus.awaiting_input
    assert run.state.pending_input is not None and run.state.pending_input.agent == "Editor"
    assert speakers(run) == ["user", "Writer", "Editor", "Writer"]
    # Nothing of Editor's second reply happened yet: no model call was made for it.
    assert run.state.engine["counters"]["Editor"] == {"chat_manager": 1}


@pytest.mark.parametrize("who", ["Writer", "Editor"])
def test_a_termination_message_ends_the_group_chat_before_editor_is_asked(who: str) -> None:
    # AG2's group chat manager ends the chat on a termination message before any agent receives it, so
    # Editor's termination branch is never reached from a reply: nobody is asked.
    script = load_script(NOTEDESK / "script.yaml")
    replies = dict(script.replies)
    replies[who] = [ScriptedReply(content="TERMINATE")]
    workflow = load_workflow(NOTEDESK)
    run = drive(
        workflow,
        ScriptedModel(Script(replies=replies)),
        scripted_inputs([]),
        state=new_session(workflow, "nd-2", app_id="acme", user_id="u-7"),
    )

    assert run.state.status == SessionStatus.completed
    assert events_of(run, "input_request") == []
    assert speakers(run) == (["user", "Writer"] if who == "Writer" else ["user", "Writer", "Editor"])
    assert events_of(run, "run_completed")[-1].reason == f"{who} ended the conversation"


@pytest.mark.usefixtures("engine_mode")
def test_notedesk_resumes_exactly_through_json() -> None:
    assert comparable(_run(Carry.json)) == comparable(_run(Carry.memory))


def test_notedesk_resumes_exactly_in_fresh_processes() -> None:
    in_memory = _run(Carry.memory)
    fresh = _run(Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)


def _ag2_asks(mode: str, limit: int, replies: int, last: str) -> bool:
    """Whether AG2's own check reads the human's input for ``mode`` in this situation."""
    from autogen import ConversableAgent

    agent = ConversableAgent("A", llm_config=False, human_input_mode=mode, max_consecutive_auto_reply=limit)
    peer = ConversableAgent("B", llm_config=False, human_input_mode="NEVER")
    peer.send({"role": "user", "content": last}, agent, request_reply=False, silent=True)
    agent._consecutive_auto_reply_counter[peer] = replies
    predicted = asks_human(agent, peer)
    io = StepIO()
    try:
        agent.check_termination_and_human_reply(sender=peer, iostream=io)
    except HumanInputNeeded:
        assert predicted, f"AG2 asked, not predicted: {mode} limit {limit} replies {replies} {last!r}"
        return True
    assert not predicted, f"predicted, AG2 did not ask: {mode} limit {limit} replies {replies} {last!r}"
    return False


def test_asks_human_is_ag2s_own_condition() -> None:
    asked = {
        (mode, limit, replies, last)
        for mode in ("NEVER", "ALWAYS", "TERMINATE")
        for limit in (0, 1, 2)
        for replies in (0, 1, 2)
        for last in ("TERMINATE", "go on", "TERMINATE now")
        if _ag2_asks(mode, limit, replies, last)
    }
    # TERMINATE: asked at the limit, or on an exact termination message below it; ALWAYS: every time.
    assert ("TERMINATE", 2, 1, "TERMINATE") in asked and ("TERMINATE", 2, 1, "go on") not in asked
    assert ("TERMINATE", 1, 1, "go on") in asked and ("TERMINATE", 2, 1, "TERMINATE now") not in asked
    assert all(
        ("ALWAYS", lim, n, last) in asked for lim in (0, 1, 2) for n in (0, 1, 2) for last in ("go on",)
    )
    assert not any(mode == "NEVER" for mode, *_ in asked)


@pytest.mark.parametrize("mode", ["ALWAYS", "TERMINATE"])
def test_a_context_handoff_that_holds_goes_first_and_nobody_is_asked(tmp_path: Path, mode: str) -> None:
    # AG2 runs a group agent's context conditions before its termination-and-human check: Editor hands off
    # (here to the end) without AG2 asking, in either mode, even at its limit (0 replies allowed).
    root = tmp_path / "NoteDesk"
    shutil.copytree(NOTEDESK, root)
    agents = root / "agents.yaml"
    text = agents.read_text().replace("human_input_mode: TERMINATE", f"human_input_mode: {mode}")
    agents.write_text(text.replace("max_consecutive_auto_reply: 1\n", "max_consecutive_auto_reply: 0\n"))
    (root / "context_variables.yaml").write_text(
        "context_variables:\n  variables:\n    - name: approved\n      default_value: true\n"
    )
    handoffs = root / "handoffs.yaml"
    handoffs.write_text(
        handoffs.read_text().replace(
            "    - source_agent: Editor\n",
            "    - source_agent: Editor\n      target_agent: terminate\n"
            "      handoff_type: context_condition\n      context_expression: ${approved} == True\n"
            "    - source_agent: Editor\n",
        )
    )
    workflow = load_workflow(root)
    run = drive(
        workflow,
        ScriptedModel(load_script(root / "script.yaml")),
        scripted_inputs([]),
        state=new_session(workflow, "nd-3", app_id="acme", user_id="u-7"),
    )

    assert events_of(run, "input_request") == []
    assert run.state.status == SessionStatus.completed
    assert speakers(run) == ["user", "Writer", "Editor"]
    assert run.messages[-1].content == "[Handing off to Terminate]"

"""Orchestration strategies on AG2 patterns: round robin, auto (a model picks), random (seeded)."""

from __future__ import annotations

import itertools
from pathlib import Path

from engine_kit import agent, comparable, events_of, play, speakers, write_workflow

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus


def test_round_robin_rotates_and_stops_at_max_turns(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B"), agent("C")],
        orchestration_strategy="round_robin",
        startup_mode="agent_first",
        human_in_the_loop=False,
        max_turns=4,
    )
    run, _ = play(workflow, {"replies": {"A": ["a1", "a2"], "B": ["b1"], "C": ["c1"]}})

    assert speakers(run) == ["_User", "A", "B", "C", "A"]
    assert [m.content for m in run.messages[1:]] == ["a1", "b1", "c1", "a2"]
    completed = events_of(run, "run_completed")
    assert [(c.status, c.reason) for c in completed] == [("max_turns", "max_turns (4) reached")]
    assert run.state.status == SessionStatus.completed and run.state.turn == 4


def test_auto_selection_is_a_model_call_and_is_billed(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B")],
        orchestration_strategy="auto",
        startup_mode="agent_first",
        human_in_the_loop=False,
        max_turns=3,
    )
    script = {"replies": {"A": ["a1", "a2"], "B": ["b1"], "speaker_selection": ["B", "A"]}}
    run, model = play(workflow, script)
    resumed, _ = play(workflow, script, carry=Carry.json)

    assert speakers(run) == ["_User", "A", "B", "A"]
    assert [r.purpose for r in model.requests] == [
        "reply",
        "speaker_selection",
        "reply",
        "speaker_selection",
        "reply",
    ]
    # Usage: one record per model call, speaker selection included, equal to what the model reported.
    usage = run.state.usage
    assert usage.calls == len(model.requests) == 5
    assert usage.prompt_tokens == sum(r.prompt_tokens for r in model.requests)
    assert usage.completion_tokens == sum(r.completion_tokens for r in model.requests)
    step_usage = [e for e in run.events if e.type == "usage"]
    assert sum(e.prompt_tokens for e in step_usage) == usage.prompt_tokens
    assert comparable(resumed) == comparable(run)


def test_random_selection_is_seeded_and_survives_resume(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A"), agent("B"), agent("C")],
        orchestration_strategy="random",
        startup_mode="agent_first",
        initial_agent="A",
        human_in_the_loop=False,
        max_turns=6,
    )
    script = {"replies": {name: [f"{name}{i}" for i in range(6)] for name in "ABC"}}
    run, _ = play(workflow, script)
    resumed, _ = play(workflow, script, carry=Carry.json)

    order = speakers(run)[1:]
    assert len(order) == 6 and order[0] == "A"
    assert all(a != b for a, b in itertools.pairwise(order))
    assert len(set(order)) > 1
    assert comparable(resumed) == comparable(run)


def test_consecutive_auto_reply_limit_survives_resume(tmp_path: Path) -> None:
    # AG2 keeps this counter inside the agent; a rebuilt agent starts at 0 unless the engine restores it.
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", max_consecutive_auto_reply=1), agent("B")],
        orchestration_strategy="round_robin",
        startup_mode="agent_first",
        human_in_the_loop=False,
        max_turns=6,
    )
    script = {"replies": {"A": ["a1", "a2"], "B": ["b1", "b2"]}}
    run, _ = play(workflow, script, carry=Carry.json)

    assert speakers(run) == ["_User", "A", "B"]
    assert [c.reason for c in events_of(run, "run_completed")] == ["A gave no reply"]


def test_a_user_message_that_is_a_termination_message_ends_the_chat_as_ag2s_group_chat_does(
    tmp_path: Path,
) -> None:
    # AG2's group chat checks every message it appends, the user's included, before anyone replies.
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A")],
        handoffs=[{"from_agent": "A", "to_agent": "user", "condition_type": "after_work"}],
        startup_mode="user_first",
    )
    run, model = play(workflow, {"user_inputs": ["hello", "TERMINATE"], "replies": {"A": ["hi"]}})

    assert [(m.speaker, m.content) for m in run.messages] == [
        ("user", "hello"),
        ("A", "hi"),
        ("user", "TERMINATE"),
    ]
    [completed] = events_of(run, "run_completed")
    assert (completed.status, completed.reason) == ("completed", "user ended the conversation")
    assert len(model.requests) == 1 and run.state.status == SessionStatus.completed


def test_an_initial_message_that_is_a_termination_message_ends_the_chat(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A")],
        startup_mode="agent_first",
        human_in_the_loop=False,
        initial_message="TERMINATE",
    )
    run, model = play(workflow, {"replies": {"A": ["never asked"]}})

    assert [m.content for m in run.messages] == ["TERMINATE"] and model.requests == []
    [completed] = events_of(run, "run_completed")
    assert (completed.status, completed.reason) == ("completed", f"{speakers(run)[0]} ended the conversation")

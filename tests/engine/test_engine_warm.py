"""Warm containers remember, and a cache never changes a step's result.

- A reset group is a fresh group: every attribute of every participant, the group chat, the executor, the
  context, compared with a group built fresh for the same state (``warm_kit.fingerprint``).
- Warm == cold: sessions of every kind of workflow, interleaved in one process that reuses its groups across
  sessions and steps, give exactly the runs (transcript, events, context, engine state, model requests byte
  for byte) each gives when every step builds its own agents; and the engine as it was gives them too.
- A warm step builds no agent, deep-copies no message and never runs the SDK's request transform.
- Concurrent steps of one workflow each hold their own group; a failed step's group is dropped.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_kit import FailingModel, comparable
from warm_kit import CASES, Session, fingerprint, interleaved

import runtime_core.engine.warm as warm_module
from runtime_core.engine import tuning
from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.group import Group, build_group
from runtime_core.engine.loading import load_engine
from runtime_core.engine.step import run_step
from runtime_core.engine.warm import POOL, GroupPool, group_key, lease_group
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import SCRIPTED_KEY, ScriptedModel
from runtime_core.session import ChatMessage, SessionState, new_session

COLD = tuning.Tuning(reuse_groups=False)
SESSIONS = 3


def _cold_runs(name: str, root: Path, session_ids: list[str]) -> dict[str, Any]:
    workflow, script = CASES[name](root)
    with tuning.tuned(COLD):
        sessions = [Session(workflow, script, sid) for sid in session_ids]
        for _ in interleaved(sessions):
            pass
        assert POOL.reuses == 0
    return {s.session_id: comparable(s.run) for s in sessions}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_reset_group_is_a_fresh_group(name: str, tmp_path: Path) -> None:
    load_engine()
    workflow, script = CASES[name](tmp_path)
    with tuning.tuned(tuning.ALL_ON):
        # Two sessions use (and leave changed) the process's groups of this workflow.
        used = [Session(workflow, script, f"used-{i}") for i in range(2)]
        for _ in interleaved(used):
            pass
        assert POOL.idle() >= 1
        state = used[0].run.state
        compiled = compile_workflow(workflow)
        model = ScriptedModel(script)
        meter = CallMeter(model.transport(), {}, timeout=60)
        first = state.messages[0].raw
        fresh = build_group(compiled, state, model, first)
        fresh.begin(state, meter)
        reuses = POOL.reuses
        lease = lease_group(compiled, state, model, meter, first)
        assert POOL.reuses == reuses + 1, "the pool built a group instead of reusing one"

        assert fingerprint(lease.group) == fingerprint(fresh)
        # And after replaying the same history into both.
        for group in (fresh, lease.group):
            for message in state.messages:
                group.commit(group.participant(message.speaker), message.raw)
            group.restore_counters(state.engine.get("counters", {}))
        assert fingerprint(lease.group) == fingerprint(fresh)
        lease.release(keep=True)


@pytest.mark.parametrize("name", ["CustomerSupport", "random"])
def test_begin_resets_what_an_interrupted_step_may_leave(name: str, tmp_path: Path) -> None:
    # Clean steps consume a pending handoff and so on; a group is reset for what any step could leave.
    from autogen.agentchat.group import AgentTarget

    from runtime_core.engine.toolbox import Waiting
    from runtime_core.tools import UIWait

    load_engine()
    workflow, script = CASES[name](tmp_path)
    compiled = compile_workflow(workflow)
    model = ScriptedModel(script)
    state = new_session(workflow, "s")
    first = {"role": "user", "content": "Hello"}
    fresh = build_group(compiled, state, model, first)
    fresh.begin(state, CallMeter(model.transport(), {}, timeout=60))
    dirty = build_group(compiled, state.model_copy(update={"session_id": "other", "turn": 3}), model, first)
    dirty.begin(new_session(workflow, "other"), CallMeter(model.transport(), {}, timeout=60))
    agent = next(iter(dirty.agents.values()))
    dirty.executor.set_next_target(AgentTarget(agent))
    dirty.executor.set_tool_call_originator(agent.name)
    dirty.context.data["leaked"] = True
    dirty.tool_run.caller = agent.name
    dirty.tool_run.interactions.answers = {"call_1": [{"request_id": "req-1", "data": {"x": 1}}]}
    dirty.tool_run.interactions.pending = UIWait("Picker", {}, "inline")
    dirty.tool_run.waiting = Waiting("pick", "call_1", dirty.tool_run.interactions.pending)
    dirty.commit(dirty.participant(dirty.groupchat.agents[-1].name), first)
    dirty.restore_counters({agent.name: {dirty.manager.name: 3}})
    agent.reply_at_receive[dirty.manager] = True
    agent._human_input.append("typed")
    agent.client.total_usage_summary = {"total_cost": 1.0}  # type: ignore[union-attr]
    for target in dirty.random_targets:
        target.nominated_name = "B"
    dirty.groupchat.speaker_selection_method = "round_robin"

    dirty.begin(state, CallMeter(model.transport(), {}, timeout=60))

    assert fingerprint(dirty) == fingerprint(fresh)


@pytest.mark.parametrize("name", sorted(CASES))
def test_warm_steps_of_interleaved_sessions_equal_cold_steps(name: str, tmp_path: Path) -> None:
    ids = [f"session-{i}" for i in range(SESSIONS)]
    cold = _cold_runs(name, tmp_path / "cold", ids)
    workflow, script = CASES[name](tmp_path / "warm")

    with tuning.tuned(tuning.ALL_ON):
        sessions = [Session(workflow, script, sid) for sid in ids]
        steps = sum(1 for _ in interleaved(sessions))
        # Sessions took turns on one group (a step that only awaits the user's first message leases none).
        assert POOL.builds == 1 and POOL.reuses >= steps - 1 - SESSIONS

    for session in sessions:
        assert comparable(session.run) == cold[session.session_id], session.session_id


def test_warm_steps_of_every_workflow_interleaved_equal_cold_steps(tmp_path: Path) -> None:
    cold = {name: _cold_runs(name, tmp_path / f"cold-{name}", ["s"])["s"] for name in CASES}
    with tuning.tuned(tuning.ALL_ON):
        sessions = {name: Session(*CASES[name](tmp_path / f"warm-{name}"), "s") for name in CASES}
        for _ in interleaved(list(sessions.values())):
            pass
    for name, session in sessions.items():
        assert comparable(session.run) == cold[name], name


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_engine_before_the_speedups_gives_the_same_runs(name: str, tmp_path: Path) -> None:
    runs = {}
    for label, setting in (("before", tuning.ALL_OFF), ("after", tuning.ALL_ON)):
        workflow, script = CASES[name](tmp_path / label)
        with tuning.tuned(setting):
            session = Session(workflow, script, "s")
            while not session.done:
                session.step()
        runs[label] = comparable(session.run)
    assert runs["after"] == runs["before"]


class Counts:
    """What a step does that a warm step must not: build agents, deep-copy messages, transform requests."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, participants: set[str]) -> None:
        from autogen import ConversableAgent
        from openai.resources.chat.completions import completions as sdk

        self.builds = self.agents = self.message_copies = self.transforms = 0
        self.raws: list[Any] = []
        real_build, real_init = warm_module.build_group, ConversableAgent.__init__
        real_deepcopy, real_transform = copy.deepcopy, sdk.maybe_transform
        real_model_copy = SessionState.model_copy

        def build(*args: Any, **kwargs: Any) -> Group:
            self.builds += 1
            return real_build(*args, **kwargs)

        def init(agent: Any, *args: Any, **kwargs: Any) -> None:
            # AG2 makes throwaway agents of its own for an auto speaker selection: not the workflow's.
            self.agents += kwargs.get("name", args[0] if args else None) in participants
            real_init(agent, *args, **kwargs)

        def deepcopy(value: Any, *args: Any) -> Any:
            self.message_copies += self._is_message(value)
            return real_deepcopy(value, *args)

        def transform(*args: Any, **kwargs: Any) -> Any:
            self.transforms += 1
            return real_transform(*args, **kwargs)

        def model_copy(state: SessionState, *, update: Any = None, deep: bool = False) -> SessionState:
            self.message_copies += deep and bool(state.messages)  # pydantic deep-copies without copy.deepcopy
            return real_model_copy(state, update=update, deep=deep)

        monkeypatch.setattr(warm_module, "build_group", build)
        monkeypatch.setattr(ConversableAgent, "__init__", init)
        monkeypatch.setattr(copy, "deepcopy", deepcopy)
        monkeypatch.setattr(sdk, "maybe_transform", transform)
        monkeypatch.setattr(SessionState, "model_copy", model_copy)

    def _is_message(self, value: Any) -> bool:
        """A state, a message, a list of them, or a raw reply (by value: the step may work on copies)."""
        if isinstance(value, SessionState | ChatMessage):
            return True
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
        if any(isinstance(item, ChatMessage) for item in items):
            return True
        return isinstance(value, str | dict | list) and any(value == raw for raw in self.raws)

    def watch(self, state: SessionState) -> None:
        self.raws = [m.raw for m in state.messages]


@pytest.mark.parametrize(("setting", "expect_none"), [(tuning.ALL_ON, True), (tuning.ALL_OFF, False)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_warm_step_builds_no_agent_copies_no_message_and_transforms_no_request(
    name: str, setting: tuning.Tuning, expect_none: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_engine()
    workflow, script = CASES[name](tmp_path)
    with tuning.tuned(setting):
        primer = Session(workflow, script, "primer")  # builds the groups the counted session reuses
        while not primer.done:
            primer.step()
        compiled = compile_workflow(workflow)
        built = {"user", "_User", "_Group_Tool_Executor", "chat_manager"}
        counts = Counts(monkeypatch, {a.name for a in compiled.agents} | built)
        session = Session(workflow, script, "counted")
        while not session.done:
            counts.watch(session.run.state)
            session.step()
        monkeypatch.undo()

    observed = (counts.builds, counts.agents, counts.message_copies, counts.transforms)
    if expect_none:
        assert observed == (0, 0, 0, 0)
    else:  # the same counts catch the engine as it was: the checks can fail
        assert all(observed[:3]) and counts.transforms == len(session.run.model_requests)


def test_concurrent_steps_of_one_workflow_hold_distinct_groups(tmp_path: Path) -> None:
    threads = 4
    workflow, script = CASES["handoffs"](tmp_path)
    ids = [f"t{i}" for i in range(threads)]
    cold = _cold_runs("handoffs", tmp_path / "cold", ids)
    # A lock around one shared set of agents would never let all of them in: the barrier would break.
    meet, leave = threading.Barrier(threads, timeout=30), threading.Barrier(threads, timeout=30)
    leased_at_barrier: list[int] = []

    class Meeting(ScriptedModel):
        """Every session's first model call waits for all the others: the steps overlap for sure."""

        def _handle(self, request: httpx.Request) -> httpx.Response:
            if not self.requests:
                meet.wait()
                leased_at_barrier.append(len(POOL._leased))  # nobody can release before ``leave``
                leave.wait()
            return super()._handle(request)

    def run(session: Session) -> None:
        while not session.done:
            session.step()

    with tuning.tuned(tuning.ALL_ON):
        sessions = [Session(workflow, script, sid) for sid in ids]
        for session in sessions:
            session.model = Meeting(script)
        workers = [threading.Thread(target=run, args=(s,)) for s in sessions]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert POOL.builds == threads and not POOL._leased

    assert leased_at_barrier and all(n == threads for n in leased_at_barrier)
    for session in sessions:
        assert comparable(session.run) == cold[session.session_id]


def test_an_idle_group_holds_nothing_of_the_session_it_served(tmp_path: Path) -> None:
    workflow, script = CASES["handoffs"](tmp_path)
    with tuning.tuned(tuning.ALL_ON):
        session = Session(workflow, script, "s")
        while not session.done:
            session.step()
        [group] = [g for groups in POOL._idle.values() for g in groups]
    assert session.run.state.context_variables == {"flag": True}
    assert group.groupchat.messages == [] and group.context.data == {}
    assert all(not agent._oai_messages for agent in group.participants())
    assert group.tool_run.session_id == "" and group.tool_run.executions == []
    with pytest.raises(RuntimeError, match="outside a step"):
        group.http_client.meter  # noqa: B018


def test_a_group_is_never_leased_twice() -> None:
    pool = GroupPool()
    group: Any = object.__new__(Group)
    key = ("hash", "digest", False)
    assert pool.acquire(key, lambda: group) is group
    with pytest.raises(RuntimeError, match="two steps at once"):
        pool.acquire(key, lambda: group)


def test_the_pool_keeps_only_groups_of_clean_steps_within_its_bounds() -> None:
    pool = GroupPool(max_keys=2, max_idle=2)

    def new() -> Any:
        return object.__new__(Group)

    with tuning.tuned(tuning.ALL_ON):
        a = [pool.acquire(("a", "", False), new) for _ in range(3)]
        for group in a:
            pool.release(("a", "", False), group, keep=True)
        assert pool.idle(("a", "", False)) == 2  # max_idle
        failed = pool.acquire(("a", "", False), new)
        pool.release(("a", "", False), failed, keep=False)
        assert pool.idle(("a", "", False)) == 1  # a failed step's group is dropped
        kept = {}
        for key in (("b", "", False), ("c", "", False)):
            kept[key] = pool.acquire(key, new)
            pool.release(key, kept[key], keep=True)
        assert pool.idle(("a", "", False)) == 0 and pool.idle() == 2  # least recently used key out
    with tuning.tuned(COLD):
        key = ("b", "", False)
        group = pool.acquire(key, new)
        pool.release(key, group, keep=True)
        # Cold: the idle group is not used, the new one not kept.
        assert group is not kept[key] and pool.idle(key) == 1


def test_what_a_group_depends_on_is_in_its_key(tmp_path: Path) -> None:
    workflow, _ = CASES["auto"](tmp_path)
    compiled = compile_workflow(workflow)
    first = {"role": "user", "content": "hi"}
    one, other = ScriptedModel(Script()), ScriptedModel(Script())
    assert group_key(compiled, one, first) == group_key(compiled, other, first)
    assert group_key(compiled, one, first) != group_key(compiled, one, {**first, "name": "A"})
    failing = group_key(compiled, FailingModel(), first)
    assert failing != group_key(compiled, one, first)
    assert "sk-" not in repr(failing)  # only a digest of the client settings is kept


class FailingWithTheScriptsKey(FailingModel):
    """A failing endpoint with the scripted model's client settings: it leases the same groups."""

    def api_key(self, key_env: str | None) -> str:
        return SCRIPTED_KEY


def test_a_failed_step_drops_its_group_and_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    workflow, script = CASES["handoffs"](tmp_path)
    with tuning.tuned(tuning.ALL_ON):
        session = Session(workflow, script, "s")
        session.step()  # A hands off to B (a transfer call)
        session.step()  # the transfer runs: B's model call is next
        state = session.run.state
        before = state.model_dump_json()
        idle = POOL.idle()

        failed = run_step(state, workflow, FailingWithTheScriptsKey())

        assert failed.error_code == "model_error"
        assert POOL.idle() == idle - 1  # leased, failed, dropped
        assert state.model_dump_json() == before  # the caller's state is untouched
        kept = failed.state.model_dump(exclude={"error", "last_event_seq", "updated_at"})
        assert kept == state.model_dump(exclude={"error", "last_event_seq", "updated_at"})
        while not session.done:
            session.step()
    cold = _cold_runs("handoffs", tmp_path / "cold", ["s"])
    assert comparable(session.run) == cold["s"]

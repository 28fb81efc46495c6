"""Helpers for the warm-container tests: workflows of every kind, sessions stepped one step at a time (so
sessions can be interleaved in one process), and a fingerprint of everything a built group holds."""

from __future__ import annotations

import collections
import functools
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from engine_kit import agent, example, write_workflow

from runtime_core.engine.driver import Run, scripted_inputs
from runtime_core.engine.step import StepResult, run_step
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, SessionStatus, UserInput, new_session
from runtime_core.workflow import Workflow

FLAG_TOOL = '''
from autogen.agentchat.group import ContextVariables, ReplyResult


def raise_flag(reason: str, context_variables: ContextVariables) -> ReplyResult:
    """Raise the flag."""
    context_variables["flag"] = True
    return ReplyResult(message=f"flag raised: {reason}", context_variables=context_variables)
'''


def _auto(root: Path) -> tuple[Workflow, Script]:
    workflow = write_workflow(
        root,
        agents=[agent("A"), agent("B")],
        orchestration_strategy="auto",
        startup_mode="agent_first",
        human_in_the_loop=False,
        max_turns=3,
    )
    return workflow, Script.model_validate(
        {"replies": {"A": ["a1", "a2"], "B": ["b1"], "speaker_selection": ["B", "A"]}}
    )


def _random(root: Path) -> tuple[Workflow, Script]:
    workflow = write_workflow(
        root,
        agents=[agent("A"), agent("B"), agent("C")],
        orchestration_strategy="random",
        startup_mode="agent_first",
        initial_agent="A",
        human_in_the_loop=False,
        max_turns=6,
    )
    return workflow, Script.model_validate({"replies": {n: [f"{n}{i}" for i in range(6)] for n in "ABC"}})


def _round_robin_with_user(root: Path) -> tuple[Workflow, Script]:
    workflow = write_workflow(
        root,
        agents=[agent("A"), agent("B")],
        orchestration_strategy="round_robin",
        startup_mode="agent_first",
        human_in_the_loop=True,
        max_turns=4,
    )
    return workflow, Script.model_validate(
        {"replies": {"A": ["a1", "a2"], "B": ["b1", "b2"]}, "user_inputs": ["more please"]}
    )


def _handoffs(root: Path) -> tuple[Workflow, Script]:
    # An llm handoff (AG2 rebuilds A's client before each reply), a tool changing the context, and a context
    # handoff AG2 evaluates before B's reply.
    workflow = write_workflow(
        root,
        agents=[agent("A"), agent("B", tools=["raise_flag"]), agent("C")],
        tools=[{"name": "raise_flag", "file": "tools/kit.py", "function": "raise_flag", "agents": ["B"]}],
        tool_source=FLAG_TOOL,
        context=[{"name": "flag", "type": "bool", "default": False}],
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition": "the user wants B"},
            {"from_agent": "B", "to_agent": "C", "expression": "${flag} == True"},
            {"from_agent": "C", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
        initial_message="Hello",
        initial_agent="A",
    )
    script = {
        "replies": {
            "A": [{"handoff": "B"}],
            "B": [{"tool_calls": [{"name": "raise_flag", "arguments": {"reason": "go"}}]}],
            "C": ["C closes."],
        }
    }
    return workflow, Script.model_validate(script)


def _example(name: str) -> Callable[[Path], tuple[Workflow, Script]]:
    def build(root: Path) -> tuple[Workflow, Script]:
        workflow, script_path = example(name)
        return workflow, load_script(script_path)

    return build


CASES: dict[str, Callable[[Path], tuple[Workflow, Script]]] = {
    "CustomerSupport": _example("CustomerSupport"),
    "ContentReview": _example("ContentReview"),
    "TripPlanner": _example("TripPlanner"),
    "auto": _auto,
    "random": _random,
    "round_robin_user": _round_robin_with_user,
    "handoffs": _handoffs,
}


@dataclass
class Session:
    """One session stepped on demand, the way ``engine.driver.drive`` steps it (JSON between steps)."""

    workflow: Workflow
    script: Script
    session_id: str
    model: ScriptedModel = field(init=False)
    run: Run = field(init=False)
    done: bool = False

    def __post_init__(self) -> None:
        self.model = ScriptedModel(self.script)
        self.run = Run(state=new_session(self.workflow, self.session_id))
        self._inputs = scripted_inputs(list(self.script.user_inputs))
        self._input: UserInput | None = None

    def step(self, stepper: Callable[..., StepResult] = run_step) -> StepResult:
        result = stepper(self.run.state, self.workflow, self.model, self._input)
        self.run.steps += 1
        self.run.events.extend(result.events)
        self.run.state = SessionState.model_validate_json(result.state.model_dump_json())
        self.run.model_requests = list(self.model.requests)
        self._input = None
        state = self.run.state
        if result.error_code is not None:
            self.done = True
        elif state.status == SessionStatus.awaiting_input and state.pending_input is not None:
            self._input = self._inputs(state.pending_input)
            self.done = self._input is None
        elif not result.enqueue_next:
            self.done = True
        return result


def interleaved(sessions: list[Session]) -> Iterator[Session]:
    """One step of each unfinished session in turn, until all are done."""
    while not all(s.done for s in sessions):
        for session in sessions:
            if not session.done:
                session.step()
                yield session


# ---- fingerprint ---------------------------------------------------------------------------------------
# Identity-only attributes: differ between any two builds without meaning anything.
IGNORED_ATTRIBUTES = {"wrapper_id"}


def fingerprint(group: Any) -> Any:
    """Everything a group holds, as plain data: every attribute of every participant, the group chat, the
    tool executor, context, tool run and targets, recursively. Agents reached from elsewhere appear by
    name; functions by qualified name; SDK and HTTP clients by their settings."""
    from autogen.agentchat.agent import Agent

    roots = {agent.name: agent for agent in group.participants()}
    walker = _Walker(roots=set(map(id, roots.values())), agent_type=Agent)
    return {
        "participants": {name: walker.walk(agent, root=True) for name, agent in roots.items()},
        "groupchat": walker.walk(vars(group.groupchat)),
        "context": walker.walk(group.context),
        "tool_run": walker.walk(group.tool_run),
        "random_targets": walker.walk(group.random_targets),
        "after_reply": walker.walk(group.after_reply),
    }


@dataclass
class _Walker:
    roots: set[int]
    agent_type: type
    stack: set[int] = field(default_factory=set)

    def walk(self, obj: Any, root: bool = False) -> Any:
        from autogen.agentchat.groupchat import GroupChat

        if obj is None or isinstance(obj, str | int | float | bool | bytes):
            return obj
        if isinstance(obj, self.agent_type) and not root:
            return f"<agent {obj.name}>"
        if isinstance(obj, GroupChat):
            return "<groupchat>"
        if isinstance(obj, type):
            return f"<type {obj.__qualname__}>"
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | functools.partial):
            return f"<function {getattr(obj, '__qualname__', type(obj).__name__)}>"
        if isinstance(obj, types.MethodType):
            return f"<method {obj.__func__.__qualname__} of {self._owner(obj.__self__)}>"
        if isinstance(obj, httpx.Client):
            return f"<{type(obj).__name__}>"
        if type(obj).__module__.startswith("openai") and hasattr(obj, "base_url"):
            return {
                "client": type(obj).__name__,
                "base_url": str(obj.base_url),
                "max_retries": obj.max_retries,
                "timeout": repr(obj.timeout),
                "headers": self.walk(dict(obj._custom_headers)),
                "api_key": obj.api_key,
            }
        if id(obj) in self.stack:
            return f"<cycle {type(obj).__name__}>"
        self.stack.add(id(obj))
        try:
            return self._inside(obj)
        finally:
            self.stack.discard(id(obj))

    def _inside(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            items = [(self._key(k), self.walk(v)) for k, v in obj.items()]
            kind = type(obj).__name__
            if isinstance(obj, collections.defaultdict):
                kind += f"[{self.walk(obj.default_factory)}]"
            return {"<dict>": kind, "items": items}
        if isinstance(obj, list | tuple | collections.deque):
            return [type(obj).__name__, [self.walk(v) for v in obj]]
        if isinstance(obj, set | frozenset):
            return [type(obj).__name__, sorted(repr(self.walk(v)) for v in obj)]
        if hasattr(obj, "__dict__"):
            attributes = {
                name: self.walk(value)
                for name, value in sorted(vars(obj).items())
                if name not in IGNORED_ATTRIBUTES
            }
            return {"<object>": type(obj).__qualname__, **attributes}
        return f"<{type(obj).__qualname__}>"

    def _key(self, key: Any) -> Any:
        if isinstance(key, self.agent_type):
            return f"<agent {key.name}>"
        return key if isinstance(key, str | int | float | bool | None) else repr(key)

    def _owner(self, owner: Any) -> str:
        if isinstance(owner, self.agent_type):
            return f"agent {owner.name}"
        return type(owner).__qualname__

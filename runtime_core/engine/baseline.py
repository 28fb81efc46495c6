"""The reference the engine must match: the same workflow run uninterrupted by AG2's own ``run_chat`` loop.

Built from the same agents and pattern as a step (``engine.blueprint.build_pattern``), started with
``initiate_group_chat`` and fed human input from a queue. The resume tests compare the model requests of a
stepped run with this one byte for byte; ``bench/step.py`` times a round of it against ``run_step``.
Engine-only features (termination keywords, ``evaluate: after_reply`` handoffs, UI tools, max_turns) do not
exist here: compare workflows that do not depend on them, and stop with ``max_rounds``.
"""

from __future__ import annotations

from typing import Any

from runtime_core.engine.blueprint import Blueprint, build_pattern
from runtime_core.engine.compiler import compile_workflow
from runtime_core.engine.humanio import HumanInputNeeded
from runtime_core.engine.toolbox import ToolRun
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import DEFAULT_TIMEOUT, ModelProvider
from runtime_core.session import new_session
from runtime_core.workflow.spec import Workflow


class QueueIO:
    """Silent AG2 console answering human input from a list."""

    def __init__(self, answers: list[str]) -> None:
        self._answers = list(answers)

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        return None

    def send(self, message: Any) -> None:
        return None

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        if not self._answers:
            raise HumanInputNeeded(prompt)
        return self._answers.pop(0)


def blueprint(workflow: Workflow, model: ModelProvider, meter: CallMeter) -> Blueprint:
    compiled = compile_workflow(workflow)
    state = new_session(workflow, "baseline")
    state.context_variables = compiled.initial_context()
    return build_pattern(compiled, state, model, meter.http_client, ToolRun())


def run_uninterrupted(
    workflow: Workflow, model: ModelProvider, first_message: str, answers: list[str], max_rounds: int
) -> list[dict[str, Any]]:
    """Run AG2's loop for ``max_rounds`` messages; returns the group chat's messages."""
    from autogen.agentchat import initiate_group_chat
    from autogen.io.base import IOStream

    meter = CallMeter(model.transport(), {}, timeout=DEFAULT_TIMEOUT)
    try:
        plan = blueprint(workflow, model, meter)
        with IOStream.set_default(QueueIO(answers)):
            result, _, _ = initiate_group_chat(plan.pattern, messages=first_message, max_rounds=max_rounds)
        return list(result.chat_history)
    finally:
        meter.close()

"""Drive a session from start to finish locally: the loop the step worker runs one invocation at a time.

Used by ``mozaiks run`` and the resume tests. Three ways to carry the state between steps:

- ``memory``: the state object is handed on as is;
- ``json``: the state is serialised to JSON and parsed back between steps (what the store does);
- ``process``: every step runs in a fresh Python process (``runtime_core.engine.stepper``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from runtime_core.deltas import DeltaSink
from runtime_core.engine.step import StepResult, run_step
from runtime_core.engine.stepper import StepReply, StepRequest
from runtime_core.events import Event
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import ModelProvider
from runtime_core.llm.script import ScriptedUserInput
from runtime_core.llm.scripted import RecordedRequest, ScriptedModel
from runtime_core.session import (
    ChatMessage,
    InputRequest,
    SessionState,
    SessionStatus,
    UserInput,
    new_session,
)
from runtime_core.workflow.spec import Workflow

InputSource = Callable[[InputRequest], UserInput | None]


class Carry(StrEnum):
    memory = "memory"
    json = "json"
    process = "process"


class Run(BaseModel):
    state: SessionState
    events: list[Event] = Field(default_factory=list)
    steps: int = 0
    model_requests: list[RecordedRequest] = Field(default_factory=list)

    @property
    def messages(self) -> list[ChatMessage]:
        return self.state.messages


class StepProcessError(RuntimeError):
    pass


def scripted_inputs(inputs: list[ScriptedUserInput]) -> InputSource:
    """Answers input requests from a list, in order; None when it runs out."""
    queue = list(inputs)
    counter = iter(range(1, 1_000_000))

    def next_input(request: InputRequest) -> UserInput | None:
        if not queue:
            return None
        item = queue.pop(0)
        kind = "answer" if request.kind == "ui_tool" else "message"
        data = (
            (item.answer if item.answer is not None else answer_data(item.text)) if kind == "answer" else None
        )
        return UserInput(
            input_id=f"input-{next(counter)}",
            kind=kind,
            text=item.text,
            data=data,
            request_id=request.request_id,
        )

    return next_input


def answer_data(text: str) -> dict[str, Any]:
    """A typed answer to a UI tool: a JSON object as is, anything else as ``{"text": ...}``."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"text": text}


def drive(
    workflow: Workflow,
    model: ModelProvider,
    inputs: InputSource,
    *,
    carry: Carry = Carry.memory,
    session_id: str = "local-session",
    # Fresh-process steps replay this script; without one they call the real model.
    script_path: Path | None = None,
    max_steps: int = 200,
    on_step: Callable[[StepResult], None] | None = None,
    state: SessionState | None = None,
    on_delta: DeltaSink | None = None,
) -> Run:
    """Run steps (from ``state``, or a new session) until the session finishes, fails, or waits for input
    nobody supplies."""
    state = state or new_session(workflow, session_id)
    run = Run(state=state)
    user_input: UserInput | None = None
    for _ in range(max_steps):
        if carry == Carry.process:
            echo = isinstance(model, EchoModel)
            result, requests = _step_in_process(workflow.root, state, user_input, script_path, echo)
            run.model_requests.extend(requests)
        else:
            result = run_step(state, workflow, model, user_input, on_delta=on_delta)
        run.steps += 1
        run.events.extend(result.events)
        if on_step is not None:
            on_step(result)
        state = result.state
        if carry == Carry.json:
            state = SessionState.model_validate_json(state.model_dump_json())
        user_input = None
        if result.error_code is not None:  # failed or refused: stepping again would do the same
            break
        if state.status == SessionStatus.awaiting_input and state.pending_input is not None:
            user_input = inputs(state.pending_input)
            if user_input is None:
                break
        elif not result.enqueue_next:
            break
    if carry != Carry.process and isinstance(model, ScriptedModel):
        run.model_requests = list(model.requests)
    run.state = state
    return run


def _step_in_process(
    root: Path, state: SessionState, user_input: UserInput | None, script: Path | None, echo: bool = False
) -> tuple[StepResult, list[RecordedRequest]]:
    request = StepRequest(
        workflow=root, state=state, user_input=user_input, script=script, model="echo" if echo else None
    )
    # An offline step must not find a key and call a real model by mistake.
    offline = script is not None or echo
    env = {k: v for k, v in os.environ.items() if not offline or k != "OPENAI_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "runtime_core.engine.stepper"],
        input=request.model_dump_json().encode(),
        capture_output=True,
        env=env,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise StepProcessError(f"step process failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    reply = StepReply.model_validate_json(done.stdout)
    return reply.result, reply.model_requests

"""One step in a fresh Python process: ``python -m runtime_core.engine.stepper < request.json > reply.json``.

This is what ``mozaiks run --fresh-process-per-step`` and the resume tests use to prove that a step needs
nothing but the persisted state: the request carries the workflow path, the state as JSON, the user's input
and (for offline runs) the script or the echo model's name; the reply carries the step result and, for an
offline model, every request the model received in this process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from runtime_core.engine.step import StepResult, run_step
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import ModelProvider, OpenAIModel
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import RecordedRequest, ScriptedModel
from runtime_core.session import SessionState, UserInput
from runtime_core.workflow import load_workflow


class StepRequest(BaseModel):
    workflow: Path
    state: SessionState
    user_input: UserInput | None = None
    # Replay this script offline; without it the step calls the real model configured in the workflow.
    script: Path | None = None
    # ``echo``: the offline echo model (``llm.echo``), which needs no script.
    model: Literal["echo"] | None = None


class StepReply(BaseModel):
    result: StepResult
    model_requests: list[RecordedRequest] = []


def serve(request: StepRequest) -> StepReply:
    provider: ModelProvider
    if request.model == "echo":
        provider = EchoModel()
    elif request.script:
        provider = ScriptedModel(load_script(request.script))
    else:
        provider = OpenAIModel()
    workflow = load_workflow(request.workflow)
    result = run_step(request.state, workflow, provider, request.user_input)
    recorded = provider.requests if isinstance(provider, ScriptedModel) else []
    return StepReply(result=result, model_requests=recorded)


def main() -> int:
    request = StepRequest.model_validate_json(sys.stdin.buffer.read())
    sys.stdout.write(serve(request).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())

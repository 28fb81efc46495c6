"""What token streaming costs and gives: one streamed reply of about 1,000 characters on the scripted model.

A one-agent workflow answers the user's first message with a 1,000-character reply. The step runs as the
worker runs it (``run_step`` with a delta sink), the sink being the worker's coalescer (``DeltaCoalescer``,
80 ms / 512 characters) over a post that serialises the delta as the Management API poster does. Measured
from the step's start: the first delta's post, the number of posts, and the step's end (when the stored
``agent_message`` exists and is posted), streaming on and off, medians of several runs.

Two model speeds: the scripted model without pauses (the runtime's own overhead), and paced like a model
writing about 50 tokens a second (4-character pieces 20 ms apart; unstreamed, the scripted model then
waits as long before answering whole).

Run: ``python bench/streaming.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime_core.deltas import DeltaCoalescer, TextDelta
from runtime_core.engine.step import run_step
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionState, UserInput, new_session
from runtime_core.transport.framing import encode
from runtime_core.workflow import Workflow, load_workflow

SENTENCE = "Lisbon in early June is warm and bright, with long evenings by the river. "
REPLY = (SENTENCE * 14)[:1000]


class Sink:
    def __init__(self, start: float) -> None:
        self.start = start
        self.first: float | None = None
        self.coalescer = DeltaCoalescer(self._post)

    def _post(self, delta: TextDelta) -> None:
        encode(delta)  # what the poster does before the API call
        if self.first is None:
            self.first = time.perf_counter() - self.start

    def delta(self, delta: TextDelta) -> None:
        self.coalescer.delta(delta)

    def flush(self) -> None:
        self.coalescer.flush()


def _workflow(root: Path) -> Workflow:
    files: dict[str, Any] = {
        "orchestrator.yaml": {"workflow_name": "Bench", "llm_config": {"model": "gpt-4o-mini"}},
        "agents.yaml": {"agents": [{"name": "Guide", "system_message": "You guide travellers."}]},
    }
    for name, data in files.items():
        (root / name).write_text(yaml.safe_dump(data))
    return load_workflow(root)


def _once(workflow: Workflow, state: SessionState, pace: float, streaming: bool) -> dict[str, float]:
    model = ScriptedModel(Script.model_validate({"replies": {"Guide": [REPLY]}}), pace=pace)
    start = time.perf_counter()
    sink = Sink(start) if streaming else None
    result = run_step(
        state,
        workflow,
        model,
        UserInput(kind="message", input_id="m1", text="June in Lisbon?"),
        on_delta=sink,
    )
    end = time.perf_counter() - start
    assert any(getattr(e, "content", None) == REPLY for e in result.events)
    out = {"end": end}
    if sink is not None:
        assert sink.first is not None
        out |= {"first": sink.first, "posts": float(sink.coalescer.posts)}
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workflow = _workflow(Path(tmp))
        state = run_step(new_session(workflow, "bench"), workflow, ScriptedModel(Script())).state
        _once(workflow, state, 0.0, True)  # warm-up: build the agents once
        print(f"reply: {len(REPLY)} characters, delivered in 4-character pieces")
        for label, pace, runs in (("no pauses", 0.0, 15), ("~50 tokens/s", 0.02, 3)):
            on = [_once(workflow, state, pace, True) for _ in range(runs)]
            off = [_once(workflow, state, pace, False) for _ in range(runs)]
            first = statistics.median(r["first"] for r in on) * 1000
            posts = statistics.median(r["posts"] for r in on)
            end_on = statistics.median(r["end"] for r in on) * 1000
            end_off = statistics.median(r["end"] for r in off) * 1000
            print(
                f"{label:>13}: first delta {first:7.1f} ms | posts per reply {posts:4.0f} | agent_message "
                f"{end_on:7.1f} ms streamed vs {end_off:7.1f} ms not: {end_on - end_off:+6.1f} ms "
                f"(median of {runs})"
            )


if __name__ == "__main__":
    main()

"""A workflow in a variant of the original dialect runs as the original runtime ran it, and resumes exactly.

Digest (tests/workflow/original/Digest) has the shape of the published SubscriptionAdvisor: a ``handoffs:``
list of from / to / trigger, a ``context_variables:`` name -> spec mapping, tool ``constraints`` and
orchestrator ``metadata`` / ``triggers`` / ``inputs`` / ``outputs``. The original runtime wired none of those
handoffs (its wiring failed on the list) and set none of those variables, so its DefaultPattern ran the
initial agent and ended on AG2's default after-work (terminate): the Writer never spoke. The same here, and
one step per JSON round trip or per fresh process equals the uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_kit import comparable, events_of, run_on_script, speakers

from runtime_core.engine.driver import Carry
from runtime_core.session import SessionStatus
from runtime_core.workflow import load_workflow

DIGEST = Path(__file__).resolve().parents[1] / "workflow" / "original" / "Digest"


def _run(carry: Carry) -> Any:
    return run_on_script(load_workflow(DIGEST), DIGEST / "script.yaml", carry)


@pytest.mark.usefixtures("engine_mode")
def test_digest_ends_after_its_initial_agent_as_in_the_original() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    # No handoff from the list is wired: the Tallier's NEXT hands nothing to the Writer.
    assert speakers(run) == ["user", "Tallier", "_Group_Tool_Executor", "Tallier"]
    assert [(e.from_agent, e.to) for e in events_of(run, "handoff")] == [("Tallier", "terminate")]
    # The tool ran although its constraints are not enforced; the mapping's variables were never set.
    assert [(e.name, e.content) for e in events_of(run, "tool_result")] == [("tally_orders", "north: 150")]
    assert not {"week", "totals", "tone"} & run.state.context_variables.keys()


@pytest.mark.usefixtures("engine_mode")
def test_one_step_per_json_round_trip_equals_uninterrupted() -> None:
    in_memory = _run(Carry.memory)
    through_json = _run(Carry.json)

    assert in_memory.steps >= 3
    assert comparable(through_json) == comparable(in_memory)


def test_one_step_per_fresh_process_equals_uninterrupted() -> None:
    in_memory = _run(Carry.memory)
    fresh = _run(Carry.process)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)

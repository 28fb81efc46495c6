"""The ``UserDriven`` greeting (original dialect ``initial_message_to_user``).

The original runtime starts a new user-driven chat with a one-shot reply of the initial agent: the seed
(``initial_message``, else the greeting itself) goes in as the user's message and the initial agent answers
with the greeting, without a model call; then the user speaks. The engine does the same in the session's
first step: both messages go on record (so every later step replays them), the client sees the greeting as
the initial agent's message (not the seed), and the user's first message, when the step carries it, follows
at once; otherwise the step ends awaiting it. The user's first message then goes to the initial agent, as
it would without a greeting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime_core.engine.report import reply_events
from runtime_core.session import USER_SPEAKER
from runtime_core.workflow.spec import OrchestrationStrategy, StartupMode, Workflow

if TYPE_CHECKING:
    from runtime_core.engine.turn import Turn


def wants_greeting(workflow: Workflow) -> bool:
    """A user-driven workflow with a greeting and a user agent to answer it (engine.blueprint)."""
    orchestrator = workflow.orchestrator
    has_user = (
        orchestrator.human_in_the_loop
        or orchestrator.orchestration_strategy == OrchestrationStrategy.handoff_based
    )
    return (
        orchestrator.startup_mode == StartupMode.user_first
        and bool((orchestrator.initial_message_to_user or "").strip())
        and has_user
    )


def greets(turn: Turn) -> bool:
    return wants_greeting(turn.workflow) and turn.chat.user is not None


def greet(turn: Turn) -> None:
    """Seed and greeting on record; then the user's first message if the step has it, else wait for it."""
    orchestrator = turn.workflow.orchestrator
    greeting = (orchestrator.initial_message_to_user or "").strip()
    seed = orchestrator.initial_message or greeting
    assert turn.chat.user is not None
    turn._commit(turn.chat.user, {"role": "user", "content": seed})
    agent = turn.chat.participant(turn.workflow.initial_agent)
    turn.state.turn += 1
    turn._commit(agent, greeting)
    reply_events(
        turn.out,
        turn.compiled,
        agent.name,
        turn.new_messages[-1],
        turn.state.turn,
        turn._is_handoff,
        written=True,
    )
    if turn.user_input is None:
        turn._await_user(agent=None)
        return
    turn.state.next_speaker = USER_SPEAKER
    turn._agent_turn(turn._consume_user_turn())

"""AG2's console, replaced for one step: silent output, and human input that never blocks.

AG2 asks a human for input through ``IOStream.input()``, which by default reads stdin and would hang a Lambda.
``StepIO.input`` returns the answer this invocation carries (the user's message) and raises
``HumanInputNeeded`` when there is none, which the engine turns into ``awaiting_input``. Everything AG2 prints
(events, messages) is dropped: the engine reports through its own numbered events.

``asks_human`` says ahead whether AG2 will read a human's input in an agent's next reply (``human_input_mode``
ALWAYS / TERMINATE), so that the step can end with the question before anything of that reply runs.
"""

from __future__ import annotations

from typing import Any, Literal

USER_AGENT = "user"
# AG2's temporary user agent: stands in for the user when a workflow has no user agent (no human in the loop).
TEMP_USER = "_User"
HUMANS = (USER_AGENT, TEMP_USER)


class HumanInputNeeded(Exception):
    pass


class StepIO:
    def __init__(self, answer: str | None = None) -> None:
        self._answer = answer

    def supply(self, answer: str) -> None:
        self._answer = answer

    @property
    def supplied(self) -> bool:
        """An answer is waiting to be read (an agent with human_input_mode ALWAYS reads it first)."""
        return self._answer is not None

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        return None

    def send(self, message: Any) -> None:
        return None

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        if self._answer is None:
            raise HumanInputNeeded(prompt)
        answer, self._answer = self._answer, None
        return answer


# Why AG2 asks: before every reply (ALWAYS); TERMINATE: the agent's replies in a row reached its limit, or the
# message it received is a termination message (then an empty answer ends the chat).
HumanAsk = Literal["always", "limit", "termination"]


def asks_human(agent: Any, sender: Any) -> HumanAsk | None:
    """Whether ``agent.generate_reply(sender=sender)`` reads the human's input, and why: AG2 0.14's own
    condition (``ConversableAgent.check_termination_and_human_reply``), on the agent's state as it is,
    with what runs before that check in ``generate_reply``: the message hooks (hooks.yaml
    ``process_last_received_message`` / ``process_all_messages_before_reply`` run here once more, so they
    must be repeatable, as every hook replayed by a step is) and a group agent's context handoffs."""
    mode = agent.human_input_mode
    if mode == "NEVER":
        return None
    messages = agent._oai_messages[sender]
    if messages:
        messages = agent.process_all_messages_before_reply(agent.process_last_received_message(messages))
    if not messages:
        return None  # AG2 goes on without asking when the agent has received nothing
    if getattr(agent, "_group_is_established", False) and _context_handoff(agent, messages):
        return None  # a group agent's context handoff replies first (AG2's group_utils, position 0)
    if mode == "ALWAYS":
        return "always"
    if agent._is_termination_msg(messages[-1]):
        return "termination"
    if agent._consecutive_auto_reply_counter[sender] >= agent._max_consecutive_auto_reply_dict[sender]:
        return "limit"
    return None


def _context_handoff(agent: Any, messages: list[dict[str, Any]]) -> bool:
    """One of the agent's context conditions holds: AG2 hands off before its termination check runs."""
    for condition in agent.handoffs.context_conditions:
        available = condition.available.is_available(agent, messages) if condition.available else True
        if available and (
            condition.condition is None or condition.condition.evaluate(agent.context_variables)
        ):
            return True
    return False

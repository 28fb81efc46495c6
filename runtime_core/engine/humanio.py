"""AG2's console, replaced for one step: silent output, and human input that never blocks.

AG2 asks a human for input through ``IOStream.input()``, which by default reads stdin and would hang a Lambda.
``StepIO.input`` returns the answer this invocation carries (the user's message) and raises
``HumanInputNeeded`` when there is none, which the engine turns into ``awaiting_input``. Everything AG2 prints
(events, messages) is dropped: the engine reports through its own numbered events.
"""

from __future__ import annotations

from typing import Any

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

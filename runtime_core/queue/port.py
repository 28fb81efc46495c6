from __future__ import annotations

from typing import Protocol

from runtime_core.queue.message import StepMessage


class StepQueue(Protocol):
    def enqueue(self, message: StepMessage) -> None:
        """Queue one step of ``message.session_id``; steps of one session run one at a time, in order."""
        ...

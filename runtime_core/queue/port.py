from __future__ import annotations

import logging
from typing import Any, Protocol

from runtime_core.queue.message import StepMessage


class StepQueue(Protocol):
    def enqueue(self, message: StepMessage) -> None:
        """Queue one step of ``message.session_id``; steps of one session run one at a time, in order."""
        ...


def reset_visibility(queue: Any, receipt: str | None, seconds: int) -> bool:
    """Make a delivered message visible again after ``seconds`` (SQS only; other queues have no receipts)."""
    change = getattr(queue, "change_visibility", None)
    if receipt is None or change is None:
        return False
    try:
        change(receipt, seconds)
    except Exception:
        # The receipt may be stale (the message was deleted or received again): nothing to release then.
        logging.getLogger(__name__).warning("could not change a message's visibility", exc_info=True)
        return False
    return True

"""What the SQS event source mapping does in AWS: hand a queued step to the worker handler as an SQS event.

The local queue calls ``StepDelivery`` once per delivery attempt. A delivery fails the way it fails in AWS:
the handler raises, or it reports the record in ``batchItemFailures`` (partial batch responses). Raising here
makes the local queue redeliver, with ``ApproximateReceiveCount`` counting up as SQS's does.
"""

from __future__ import annotations

import threading
from typing import Any

from runtime_core.local.gateway import LambdaContext, sqs_event
from runtime_core.local.handlers import Handler
from runtime_core.queue.message import StepMessage

WORKER_TIMEOUT_SECONDS = 300


class StepDeliveryFailed(RuntimeError):
    pass


class StepDelivery:
    def __init__(self, worker: Handler) -> None:
        self._worker = worker
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    @property
    def retrying(self) -> int:
        """Steps being delivered or waiting to be redelivered (0 when every delivery so far succeeded)."""
        with self._lock:
            return len(self._attempts)

    def __call__(self, message: StepMessage) -> None:
        key = (message.session_id, message.dedup_id)
        with self._lock:
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        event = sqs_event(message, receive_count=attempt)
        result: Any = self._worker(event, LambdaContext("mozaiks-worker", WORKER_TIMEOUT_SECONDS))
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if failures:
            raise StepDeliveryFailed(f"the worker reported {message.session_id} as failed: {failures}")
        with self._lock:
            self._attempts.pop(key, None)

"""The step worker: an SQS FIFO batch of step messages in, ``batchItemFailures`` out
(``runtime_core.worker.sqs_batch``)."""

from typing import Any

from runtime_core.wiring import Role, cold_start
from runtime_core.worker.sqs_batch import on_sqs_batch

cold_start(Role.worker)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return on_sqs_batch(event, context)

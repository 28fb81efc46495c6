"""The step worker: an SQS FIFO batch of step messages in, ``batchItemFailures`` out
(``runtime_core.worker.sqs_batch``). With SnapStart, its hooks (``runtime_core.worker.snapstart``) import AG2
and compile the workflows before the snapshot, and renew secrets, clients and randomness after a restore."""

from typing import Any

from runtime_core.wiring import Role, cold_start
from runtime_core.worker.snapstart import register_hooks
from runtime_core.worker.sqs_batch import on_sqs_batch

cold_start(Role.worker)
register_hooks(Role.worker)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return on_sqs_batch(event, context)

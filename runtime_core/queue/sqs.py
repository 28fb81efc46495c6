"""SQS FIFO step queue: the session id is the message group, so one session's steps never run in parallel."""

from __future__ import annotations

import hashlib
from typing import Any

from runtime_core.queue.message import StepMessage


class SqsStepQueue:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, message: StepMessage) -> None:
        # SQS caps deduplication ids at 128 characters of a restricted charset: hash to be safe.
        dedup = hashlib.sha256(f"{message.session_id}:{message.dedup_id}".encode()).hexdigest()
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message.session_id,
            MessageDeduplicationId=dedup,
        )

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Make a delivered message visible again after ``seconds`` (0: at once). A message whose worker died
        would otherwise block its session's message group for the queue's whole visibility timeout."""
        self._client.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

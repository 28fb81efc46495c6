"""The step queue: one step at a time per session, in order (SQS FIFO in AWS, an in-process queue locally)."""

from runtime_core.queue.message import StepMessage
from runtime_core.queue.port import StepQueue, reset_visibility

__all__ = ["StepMessage", "StepQueue", "reset_visibility"]

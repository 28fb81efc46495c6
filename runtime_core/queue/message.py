"""The body of a step message. The tenant travels with it because it was taken from the verified connection
record when the step was enqueued; the worker still claims through the tenant-scoped store."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StepMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1, max_length=128)
    app_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)
    # Why this step was enqueued; informational (logs), the worker decides from the session's state.
    reason: Literal["start", "input", "continue", "cancel", "retry", "sweep"]
    # FIFO deduplication id: the same logical step enqueued twice (a retried frame, a redelivered worker
    # message that re-enqueues) is delivered once within SQS's 5-minute window.
    dedup_id: str = Field(min_length=1, max_length=128)

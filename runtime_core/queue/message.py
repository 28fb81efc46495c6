"""The body of a step message. The tenant travels with it because it was taken from the verified connection
record when the step was enqueued; the worker still claims through the tenant-scoped store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from runtime_core.session import Tenant

StepReason = Literal["start", "input", "continue", "cancel", "retry", "sweep"]


class StepMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1, max_length=128)
    app_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)
    # Why this step was enqueued; informational (logs), the worker decides from the session's state.
    reason: StepReason
    # FIFO deduplication id: the same logical step enqueued twice (a retried frame, a redelivered worker
    # message that re-enqueues) is delivered once within SQS's 5-minute window.
    dedup_id: str = Field(min_length=1, max_length=128)

    @classmethod
    def of(cls, tenant: Tenant, session_id: str, reason: StepReason, dedup_id: str) -> Self:
        """A step of ``session_id``, with the tenant taken from a verified connection or session."""
        return cls(
            session_id=session_id,
            app_id=tenant.app_id,
            user_id=tenant.user_id,
            reason=reason,
            dedup_id=dedup_id,
        )

"""Step metrics as CloudWatch EMF lines (Powertools Metrics).

Dimensions are ``workflow`` and ``app_id``, plus a second set with the constant ``scope=all`` (the stack-wide
series the alarms and the dashboard use), only: every distinct dimension combination is a separate, billed
custom metric, so user and session ids go into the EMF document as metadata (searchable in Logs Insights, not
metrics). Powertools' automatic ``service`` dimension is switched off for the same reason (the function name
is in the logs). ``POWERTOOLS_DEV=true`` or ``POWERTOOLS_METRICS_DISABLED=true`` silently disable all of this.

``StepDuration`` is the engine's time only (the model work of the step). What a user feels is in the other
timings: ``QueueWait`` (enqueue to claim), ``StepEndToEnd`` (claim to the last post), ``FrameToFirstEvent``
(the client frame's arrival at API Gateway to the first post of the step it caused), and what the step
posted (``Posts``, ``PostedBytes``). docs/observability.md describes each.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from runtime_core.session import UsageTotals

STACK_DIMENSION, STACK_VALUE = "scope", "all"
_EMITTING = threading.Lock()
# EMF drops dimension values longer than this; a longer app id would lose the step's metrics entirely.
_MAX_DIMENSION = 250


class StepTimings(BaseModel):
    """What a step cost the user besides the engine's time; None where it was not measured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue_wait_ms: float | None = Field(default=None, ge=0)
    end_to_end_ms: float | None = Field(default=None, ge=0)
    frame_to_first_event_ms: float | None = Field(default=None, ge=0)
    posts: int = Field(default=0, ge=0)
    posted_bytes: int = Field(default=0, ge=0)
    # Management API posts that failed for a reason other than the client leaving (throttled past the retry
    # budget, forbidden, unreachable): the events are stored, the client gets them on resume.
    post_failures: int = Field(default=0, ge=0)


class StepMetrics(BaseModel):
    """What one orchestration step reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow: str = Field(min_length=1)
    app_id: str = Field(min_length=1)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    duration_ms: float = Field(ge=0)
    # None for a successful step, otherwise a short error code (stored as metadata).
    error: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    timings: StepTimings | None = None


def build_metrics(namespace: str) -> Metrics:
    # service="" (not None): None would fall back to POWERTOOLS_SERVICE_NAME and add a "service" dimension.
    return Metrics(namespace=namespace, service="")


def record_step_metrics(
    metrics: Metrics,
    workflow: str,
    app_id: str,
    usage: UsageTotals,
    duration_ms: float,
    error: str | None = None,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    timings: StepTimings | None = None,
) -> None:
    """Emit one EMF line for one step, now.

    It flushes immediately rather than at the end of the invocation: an SQS batch may hold steps of different
    workflows and tenants, and one EMF document has one set of dimension values.
    """
    step = StepMetrics(
        workflow=workflow,
        app_id=app_id,
        usage=usage,
        duration_ms=duration_ms,
        error=error,
        user_id=user_id,
        session_id=session_id,
        timings=timings,
    )
    # One Metrics object per container, its dimensions and values shared: the local server steps sessions on
    # several threads, and two steps must not mix their lines.
    with _EMITTING:
        metrics.add_dimension(name="workflow", value=step.workflow[:_MAX_DIMENSION])
        metrics.add_dimension(name="app_id", value=step.app_id[:_MAX_DIMENSION])
        # The same values again under one constant dimension: the stack-wide series that alarms and the
        # dashboard use (an alarm needs fixed dimension values: one per workflow and app cannot be alarmed on
        # as a whole).
        metrics.add_dimensions(**{STACK_DIMENSION: STACK_VALUE})
        metrics.add_metric(name="Steps", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1 if step.error else 0)
        metrics.add_metric(name="ModelCalls", unit=MetricUnit.Count, value=step.usage.calls)
        metrics.add_metric(name="PromptTokens", unit=MetricUnit.Count, value=step.usage.prompt_tokens)
        metrics.add_metric(name="CompletionTokens", unit=MetricUnit.Count, value=step.usage.completion_tokens)
        # US dollars, as the model clients report it; CloudWatch has no currency unit.
        metrics.add_metric(name="Cost", unit=MetricUnit.NoUnit, value=step.usage.cost)
        metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds, value=step.duration_ms)
        if step.timings is not None:
            _add_timings(metrics, step.timings)
        if step.user_id is not None:
            metrics.add_metadata(key="user_id", value=step.user_id)
        if step.session_id is not None:
            metrics.add_metadata(key="session_id", value=step.session_id)
        if step.error is not None:
            metrics.add_metadata(key="error", value=step.error)
        metrics.flush_metrics()
        # Powertools skips its own clear when metrics are disabled (POWERTOOLS_METRICS_DISABLED,
        # POWERTOOLS_DEV): without this, a warm container would pile up every step's values.
        metrics.clear_metrics()


def _add_timings(metrics: Metrics, timings: StepTimings) -> None:
    for name, value in (
        ("QueueWait", timings.queue_wait_ms),
        ("StepEndToEnd", timings.end_to_end_ms),
        ("FrameToFirstEvent", timings.frame_to_first_event_ms),
    ):
        if value is not None:
            metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)
    metrics.add_metric(name="Posts", unit=MetricUnit.Count, value=timings.posts)
    metrics.add_metric(name="PostedBytes", unit=MetricUnit.Bytes, value=timings.posted_bytes)
    metrics.add_metric(name="PostFailures", unit=MetricUnit.Count, value=timings.post_failures)

"""The step worker behind SQS: FIFO (message group = session id) delivers step messages; each runs one step.

Batches go through Powertools' ``SqsFifoPartialProcessor``: a record whose step failed is reported in
``batchItemFailures`` so SQS redelivers it (and, after the queue's ``maxReceiveCount``, parks it in the
dead-letter queue); with ``skip_group_on_error`` the later records of the same session are reported failed
too, so a session's steps never run out of order, while other sessions in the batch go on.
The step logic (claim, decide, run, commit, post, chain) is ``runtime_core.worker.step_worker``.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from runtime_core.queue import StepMessage, reset_visibility
from runtime_core.services import Services, get_services
from runtime_core.session import UsageTotals
from runtime_core.telemetry import (
    StepTimings,
    bind_invocation,
    build_metrics,
    record_step_metrics,
    runtime_logger,
    tracing,
    unbind_invocation,
)
from runtime_core.worker.models import provider_for
from runtime_core.worker.step_worker import StepReport, StepWorker

# Every step report of the current container, newest last (bounded): the benchmark and tests read it.
REPORTS: list[StepReport] = []
_MAX_REPORTS = 1000


@cache
def _metrics(namespace: str) -> Metrics:
    return build_metrics(namespace)


def _emitter(services: Services) -> Any:
    metrics = _metrics(services.settings.telemetry.metrics_namespace)

    def emit(
        workflow: str,
        app_id: str,
        usage: UsageTotals,
        duration_ms: float,
        error: str | None,
        message: StepMessage,
        timings: StepTimings | None,
    ) -> None:
        record_step_metrics(
            metrics,
            workflow,
            app_id,
            usage,
            duration_ms,
            error,
            user_id=message.user_id,
            session_id=message.session_id,
            timings=timings,
        )

    return emit


def step_worker(services: Services, owner: str) -> StepWorker:
    settings = services.settings
    return StepWorker(
        services,
        lease_seconds=settings.worker.lease_seconds,
        callback_url=settings.endpoint.callback_url,
        provider_for=provider_for,
        on_metrics=_emitter(services),
        owner=owner,
        grace_seconds=services.store.recovery_grace_seconds,
        margin_seconds=settings.worker.margin_seconds,
    )


def retry_delay(receive_count: int) -> int:
    """Seconds before a failed delivery is tried again: 2, 4, 8 ... up to a minute (not the queue's
    visibility timeout, which must be at least the worker's timeout and would freeze the session for it)."""
    return min(2**receive_count, 60)


class _Records:
    """The record handler with the invocation's deadline (Lambda's remaining time when the batch started)."""

    def __init__(self, context: Any) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.deadline = time.monotonic() + remaining() / 1000 if callable(remaining) else None

    def __call__(self, record: SQSRecord) -> None:
        message = StepMessage.model_validate_json(record.body)
        log = runtime_logger()
        bind_invocation(
            log, session_id=message.session_id, app_id=message.app_id, request_id=record.message_id
        )
        services = get_services()
        try:
            report = step_worker(services, f"sqs:{record.message_id}").process(
                message, receipt=record.receipt_handle or None, deadline=self.deadline
            )
        except Exception:
            # Retried soon rather than after the visibility timeout; the dead-letter queue takes it after
            # maxReceiveCount deliveries.
            count = int(record.attributes.approximate_receive_count or 1)
            reset_visibility(services.queue, record.receipt_handle, retry_delay(count))
            raise
        finally:
            unbind_invocation(log)
        REPORTS.append(report)
        del REPORTS[:-_MAX_REPORTS]


def on_sqs_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = runtime_logger()
    request_id = getattr(context, "aws_request_id", None)
    bind_invocation(log, request_id=request_id if isinstance(request_id, str) else None)
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # Report every failed record instead of raising when all failed: the response is what SQS acts on.
    processor.raise_on_entire_batch_failure = False
    try:
        return dict(process_partial_response(event, _Records(context), processor, context))
    finally:
        unbind_invocation(log)
        # Spans are exported before Lambda may freeze the container (no-op with tracing off).
        tracing.flush()

"""The step worker: SQS FIFO (message group = session id) delivers step messages; each runs at most one step.

Batches go through Powertools' ``SqsFifoPartialProcessor``: a record whose step failed is reported in
``batchItemFailures`` so SQS redelivers it (and, after the queue's ``maxReceiveCount``, parks it in the
dead-letter queue); with ``skip_group_on_error`` the later records of the same session are reported failed
too, so a session's steps never run out of order, while other sessions in the batch go on.
The step logic (claim, decide, run, commit, post, chain) is ``functions._step``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions._models import provider_for
from functions._runtime import logger, request_id_of
from functions._step import StepReport, StepWorker
from runtime_core.config import WorkerSettings
from runtime_core.queue import StepMessage
from runtime_core.services import get_services
from runtime_core.session import UsageTotals
from runtime_core.telemetry import bind_invocation, build_metrics, record_step_metrics, unbind_invocation

# Every step report of the current container, newest last (bounded): the benchmark and tests read it.
REPORTS: list[StepReport] = []
_MAX_REPORTS = 1000


@cache
def settings() -> WorkerSettings:
    return WorkerSettings.from_env()


@cache
def metrics() -> Metrics:
    return build_metrics(settings().metrics_namespace)


def _emit(
    workflow: str,
    app_id: str,
    usage: UsageTotals,
    duration_ms: float,
    error: str | None,
    message: StepMessage,
) -> None:
    record_step_metrics(
        metrics(),
        workflow,
        app_id,
        usage,
        duration_ms,
        error,
        user_id=message.user_id,
        session_id=message.session_id,
    )


def _worker(owner: str) -> StepWorker:
    # Built per record: cheap, and it follows services replaced by the local server or tests.
    return StepWorker(
        get_services(),
        lease_seconds=settings().lease_seconds,
        callback_url=settings().callback_url,
        provider_for=provider_for,
        on_metrics=_emit,
        owner=owner,
    )


def _record_handler(record: SQSRecord) -> None:
    message = StepMessage.model_validate_json(record.body)
    log = logger()
    bind_invocation(log, session_id=message.session_id, app_id=message.app_id, request_id=record.message_id)
    try:
        report = _worker(f"sqs:{record.message_id}").process(message)
    finally:
        unbind_invocation(log)
    REPORTS.append(report)
    del REPORTS[:-_MAX_REPORTS]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log = logger()
    bind_invocation(log, request_id=request_id_of(context))
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # Report every failed record instead of raising when all failed: the response is what SQS acts on.
    processor.raise_on_entire_batch_failure = False
    try:
        return dict(process_partial_response(event, _record_handler, processor, context))
    finally:
        unbind_invocation(log)

"""Powertools logger and metrics setup, and the per-step usage metrics."""

from runtime_core.telemetry.logger import (
    CORRELATION_KEYS,
    bind_invocation,
    build_logger,
    runtime_logger,
    unbind_invocation,
)
from runtime_core.telemetry.metrics import StepMetrics, StepTimings, build_metrics, record_step_metrics

__all__ = [
    "CORRELATION_KEYS",
    "StepMetrics",
    "StepTimings",
    "bind_invocation",
    "build_logger",
    "build_metrics",
    "record_step_metrics",
    "runtime_logger",
    "unbind_invocation",
]

"""Tracing for ``mozaiks serve``: a timing tree per step (``--trace``) and export where OTEL_* says."""

from __future__ import annotations

from typing import TextIO


def start_tracing(tree: bool, out: TextIO) -> str | None:
    """Tracing for the local server: a timing tree per step on ``out`` (``--trace``), and export wherever the
    standard OTEL_* variables say (``OTEL_EXPORTER_OTLP_ENDPOINT``: a local collector or Jaeger). None when
    neither is asked for (then the OpenTelemetry SDK is not imported)."""
    from runtime_core.config import TracingSettings

    settings = TracingSettings.from_env()
    if not tree and not settings.enabled:
        return None
    from runtime_core.telemetry import tracing
    from runtime_core.telemetry.otel import TimingTree, backend, exporter_for

    exporter = exporter_for(settings) if settings.enabled else None
    processors = {"tree": TimingTree(out)} if tree else {}
    tracing.install(backend(exporter, settings.service_name or "mozaiks-serve", **processors))
    notes = ["a timing tree per step"] if tree else []
    if settings.enabled:
        notes.append(f"{settings.exporter} export (OTEL_* variables)")
    return ", ".join(notes)

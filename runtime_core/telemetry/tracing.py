"""The tracing port: spans around the work of a frame, a queued step and each model and tool call.

Off (the default), every call here is a check of one module global and returns a shared no-op object: the
OpenTelemetry SDK is never imported, so route cold starts and steps pay nothing. On (the cold start
does it when ``OTEL_*`` variables ask for it, ``mozaiks serve --trace`` locally, tests with an in-memory
exporter), spans go through ``runtime_core.telemetry.otel`` to the configured exporter.

Trace context crosses the step queue in the step message (``StepMessage.trace``, W3C ``traceparent``):
``inject`` writes the current span's context, ``span(..., parent=carrier)`` continues it in the worker, and
``span(..., links=[carrier])`` links work that was not caused by that span but follows from it (a step
chained by the previous one, a step re-armed by the sweeper).

Attribute names follow the OpenTelemetry GenAI semantic conventions where one exists (``gen_ai.*``), and
``mozaiks.*`` for the runtime's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]
Carrier = Mapping[str, str]


class SpanHandle(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None: ...

    def record_error(self, error: BaseException | str) -> None: ...


class OpenSpan(SpanHandle, Protocol):
    """A span started and ended by separate calls (a model call: opened by the request hook, ended by the
    response hook)."""

    def end(self) -> None: ...


class Backend(Protocol):
    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue | None] | None,
        kind: str,
        parent: Carrier | None,
        links: Sequence[Carrier | None],
    ) -> AbstractContextManager[SpanHandle]: ...

    def start(
        self, name: str, attributes: Mapping[str, AttributeValue | None] | None, kind: str
    ) -> OpenSpan: ...

    def interval(
        self,
        name: str,
        start: float,
        end: float,
        attributes: Mapping[str, AttributeValue | None] | None,
        parent: Carrier | None,
        links: Sequence[Carrier | None],
    ) -> None: ...

    def inject(self) -> dict[str, str] | None: ...

    def annotate(self, attributes: Mapping[str, AttributeValue | None]) -> None: ...

    def flush(self) -> None: ...

    def shutdown(self) -> None: ...


class _NoSpan:
    """Every span while tracing is off: one shared object, entered and left for nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        return None

    def record_error(self, error: BaseException | str) -> None:
        return None

    def end(self) -> None:
        return None


NO_SPAN = _NoSpan()
_backend: Backend | None = None


def enabled() -> bool:
    return _backend is not None


def span(
    name: str,
    attributes: Mapping[str, AttributeValue | None] | None = None,
    *,
    kind: str = "internal",
    parent: Carrier | None = None,
    links: Sequence[Carrier | None] = (),
) -> AbstractContextManager[SpanHandle]:
    """A span around a block, child of the current span (or of ``parent``, a carrier from a step message).
    ``kind``: internal, server, client, producer or consumer. Attributes whose value is None are left out."""
    if _backend is None:
        return NO_SPAN
    return _backend.span(name, attributes, kind, parent, links)


def start(
    name: str, attributes: Mapping[str, AttributeValue | None] | None = None, *, kind: str = "internal"
) -> OpenSpan:
    """A span, child of the current one, that the caller ends with ``end()`` (not made current)."""
    if _backend is None:
        return NO_SPAN
    return _backend.start(name, attributes, kind)


def interval(
    name: str,
    start: float,
    end: float,
    attributes: Mapping[str, AttributeValue | None] | None = None,
    *,
    parent: Carrier | None = None,
    links: Sequence[Carrier | None] = (),
) -> None:
    """A span for a time that passed elsewhere (epoch seconds): the queue wait of a step message."""
    if _backend is not None:
        _backend.interval(name, start, end, attributes, parent, links)


def inject() -> dict[str, str] | None:
    """The current span's context as a W3C carrier, for a step message; None when off or outside a span."""
    if _backend is None:
        return None
    return _backend.inject()


def annotate(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (what a handler learns after its span started: the frame's type)."""
    if _backend is not None:
        _backend.annotate(attributes)


def flush() -> None:
    """Export what is pending: at the end of a Lambda invocation, before the container may be frozen."""
    if _backend is not None:
        _backend.flush()


def install(backend: Backend | None) -> Backend | None:
    """Switch tracing on (a backend) or off (None); returns the previous one (tests restore it)."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def enable_from_settings(settings: Any, service: str) -> None:
    """The cold start's switch: build the OpenTelemetry backend when the tracing settings ask for it."""
    if _backend is not None or not settings.enabled:
        return
    from runtime_core.telemetry.otel import backend_from_settings

    install(backend_from_settings(settings, service))

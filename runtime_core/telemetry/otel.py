"""The OpenTelemetry backend of the tracing port (``runtime_core.telemetry.tracing``): imported only when
tracing is on, so the SDK never weighs on a cold start that does not trace.

Export: ``otlp`` is OTLP over HTTP/protobuf, configured by the SDK's own ``OTEL_EXPORTER_OTLP_*`` variables
(an ADOT collector layer listens on http://localhost:4318; X-Ray accepts OTLP through it or through the
CloudWatch agent); ``console`` prints spans as JSON lines. Spans are batched and flushed at the end of each
invocation (``tracing.flush``), before Lambda may freeze the container. ``TimingTree`` prints an indented tree
per step for ``mozaiks serve --trace``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from runtime_core import __version__
from runtime_core.telemetry.tracing import AttributeValue, Carrier

KINDS = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_PROPAGATOR = TraceContextTextMapPropagator()


def _clean(attributes: Mapping[str, AttributeValue | None] | None) -> dict[str, AttributeValue]:
    return {k: v for k, v in (attributes or {}).items() if v is not None}


class _Handle:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        self._span.set_attributes(_clean(attributes))

    def record_error(self, error: BaseException | str) -> None:
        if isinstance(error, BaseException):
            self._span.record_exception(error)
            self._span.set_attribute("error.type", type(error).__name__)
            self._span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        else:
            self._span.set_attribute("error.type", error)
            self._span.set_status(Status(StatusCode.ERROR, error))

    def end(self) -> None:
        self._span.end()


class OtelBackend:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("mozaiks-runtime", __version__)

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue | None] | None,
        kind: str,
        parent: Carrier | None,
        links: Sequence[Carrier | None],
    ) -> Iterator[_Handle]:
        context = _PROPAGATOR.extract(dict(parent)) if parent else None
        with self.tracer.start_as_current_span(
            name, context=context, kind=KINDS[kind], attributes=_clean(attributes), links=_links(links)
        ) as span:
            yield _Handle(span)

    def start(self, name: str, attributes: Mapping[str, AttributeValue | None] | None, kind: str) -> _Handle:
        return _Handle(self.tracer.start_span(name, kind=KINDS[kind], attributes=_clean(attributes)))

    def interval(
        self,
        name: str,
        start: float,
        end: float,
        attributes: Mapping[str, AttributeValue | None] | None,
        parent: Carrier | None,
        links: Sequence[Carrier | None],
    ) -> None:
        context = _PROPAGATOR.extract(dict(parent)) if parent else None
        start_ns = int(start * 1e9)
        span = self.tracer.start_span(
            name, context=context, attributes=_clean(attributes), links=_links(links), start_time=start_ns
        )
        span.end(end_time=max(start_ns, int(end * 1e9)))

    def inject(self) -> dict[str, str] | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier or None

    def annotate(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        trace.get_current_span().set_attributes(_clean(attributes))

    def flush(self) -> None:
        self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()


def _links(carriers: Sequence[Carrier | None]) -> list[Link]:
    links = []
    for carrier in carriers:
        if not carrier:
            continue
        context = trace.get_current_span(_PROPAGATOR.extract(dict(carrier))).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    return links


def backend(exporter: SpanExporter | None = None, service: str = "mozaiks", **processors: Any) -> OtelBackend:
    """A backend exporting to ``exporter`` in batches (tests pass an ``InMemorySpanExporter`` and
    ``simple=True`` to see each span as it ends), and to any extra ``processors``' values."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    simple = bool(processors.pop("simple", False))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
    for processor in processors.values():
        provider.add_span_processor(processor)
    return OtelBackend(provider)


def exporter_for(settings: Any) -> SpanExporter:
    """OTLP/HTTP (configured by the SDK's OTEL_EXPORTER_OTLP_* variables) or console, as the settings say."""
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def backend_from_settings(settings: Any, role: str) -> OtelBackend:
    """The cold start's backend: OTLP/HTTP or console export as ``OTEL_TRACES_EXPORTER`` says."""
    return backend(exporter_for(settings), settings.service_name or f"mozaiks-{role}")


class TimingTree(SpanProcessor):
    """Prints each step's spans as an indented tree with durations when its ``mozaiks.step`` span ends (the
    local server's ``--trace``): where the time of a step went, at a glance."""

    def __init__(self, out: IO[str] | None = None, root: str = "mozaiks.step") -> None:
        self.out = out or sys.stderr
        self.root = root
        self._spans: dict[int, list[ReadableSpan]] = {}

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        self._spans.setdefault(context.trace_id, []).append(span)
        while len(self._spans) > 1000:
            # Traces without a step (a ping, a refused frame) are dropped, oldest first.
            del self._spans[next(iter(self._spans))]
        if span.name == self.root:
            spans = self._spans.pop(context.trace_id, [])
            self.out.write(render_tree(spans, context.span_id) + "\n")
            self.out.flush()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def shutdown(self) -> None:
        self._spans.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def render_tree(spans: Sequence[ReadableSpan], root_id: int) -> str:
    children: dict[int, list[ReadableSpan]] = {}
    by_id: dict[int, ReadableSpan] = {}
    for s in spans:
        if s.context is not None:
            by_id[s.context.span_id] = s
        if s.parent is not None:
            children.setdefault(s.parent.span_id, []).append(s)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        label = span.attributes.get("gen_ai.agent.name") or span.attributes.get("gen_ai.tool.name") or ""
        lines.append(f"{'  ' * depth}{span.name}{f' [{label}]' if label else ''}  {ms:.1f} ms")
        for child in sorted(children.get(span.context.span_id, []), key=lambda c: c.start_time or 0):
            walk(child, depth + 1)

    if root_id in by_id:
        walk(by_id[root_id], 0)
    return "\n".join(lines)

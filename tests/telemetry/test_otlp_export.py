"""OTLP export as a deployed function does it: the cold start turns tracing on from the standard OTEL_*
variables, and spans arrive at the collector as OTLP/HTTP protobuf."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from runtime_core.config import TracingSettings
from runtime_core.telemetry import tracing
from runtime_core.telemetry.otel import backend_from_settings
from tests.telemetry.otlp_collector import Collector, running_collector


@pytest.fixture
def collector() -> Iterator[str]:
    with running_collector() as url:
        yield url


def test_spans_reach_the_collector_over_otlp_http(collector: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    settings = TracingSettings.from_env()
    assert settings.exporter == "otlp"
    previous = tracing.install(backend_from_settings(settings, "worker"))
    try:
        with (
            tracing.span("mozaiks.step", {"mozaiks.session_id": "s-1"}, kind="consumer"),
            tracing.span("invoke_agent A", {"gen_ai.agent.name": "A"}),
        ):
            pass
        tracing.flush()
    finally:
        tracing.install(previous)
    [(path, content_type, body)] = Collector.received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "mozaiks-worker"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert sorted(names) == ["invoke_agent A", "mozaiks.step"]


def test_the_cold_start_turns_tracing_on_from_otel_variables(collector: str) -> None:
    code = (
        "import json, sys\n"
        "from runtime_core.wiring import Role, cold_start\n"
        "from runtime_core.telemetry import tracing\n"
        "before = 'opentelemetry.sdk' in sys.modules\n"
        "cold_start(Role.disconnect)\n"
        "with tracing.span('mozaiks.frame'):\n"
        "    carrier = tracing.inject()\n"
        "tracing.flush()\n"
        "print(json.dumps([before, tracing.enabled(), sorted(carrier or {})]))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "mozaiks-disconnect",
        "MONGODB_URI": "mongodb://127.0.0.1:1/",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
        "OTEL_SERVICE_NAME": "disconnect-test",
    }
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=".")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [False, True, ["traceparent"]]
    [(_, _, body)] = Collector.received
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "disconnect-test"

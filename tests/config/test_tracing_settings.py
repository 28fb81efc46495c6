"""Tracing is switched by the standard OTEL_* variables; off unless one of them asks for it."""

from __future__ import annotations

import pytest

from runtime_core.config import ConfigError, TracingSettings


@pytest.mark.parametrize(
    ("env", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, None),  # blank is unset (a CloudFormation parameter)
    ],
)
def test_when_tracing_is_on(env: dict[str, str], exporter: str | None) -> None:
    settings = TracingSettings.from_env(env)
    assert settings.exporter == exporter and settings.enabled == (exporter is not None)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_SDK_DISABLED": "yes"}, "OTEL_SDK_DISABLED"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        TracingSettings.from_env(env)
    assert info.value.variables == [variable]

"""``mozaiks serve --trace``: each step's spans as an indented tree, printed when the step's span ends."""

from __future__ import annotations

import io

import pytest

from runtime_core.telemetry import tracing
from runtime_core.telemetry.otel import TimingTree, backend


def test_a_step_prints_its_tree_when_it_ends() -> None:
    out = io.StringIO()
    previous = tracing.install(backend(None, "t", tree=TimingTree(out)))
    try:
        with tracing.span("mozaiks.frame"):
            carrier = tracing.inject()
        with tracing.span("mozaiks.step", parent=carrier):
            with tracing.span("mozaiks.claim"):
                pass
            with tracing.span("mozaiks.engine"):
                with tracing.span("invoke_agent A", {"gen_ai.agent.name": "A"}):
                    call = tracing.start("chat gpt-4o-mini", kind="client")
                    call.end()
                with tracing.span("execute_tool lookup", {"gen_ai.tool.name": "lookup"}):
                    pass
            assert out.getvalue() == ""  # nothing before the step ends
    finally:
        tracing.install(previous)
    lines = out.getvalue().splitlines()
    shape = [line.rsplit("  ", 1)[0] for line in lines]
    assert shape == [
        "mozaiks.step",
        "  mozaiks.claim",
        "  mozaiks.engine",
        "    invoke_agent A [A]",
        "      chat gpt-4o-mini",
        "    execute_tool lookup [lookup]",
    ]
    assert all(line.endswith(" ms") for line in lines)


def test_serve_without_trace_or_otel_variables_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime_core.local.traces import start_tracing

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    assert start_tracing(False, io.StringIO()) is None and not tracing.enabled()
    previous = tracing.install(None)
    try:
        assert start_tracing(True, io.StringIO()) == "a timing tree per step" and tracing.enabled()
    finally:
        tracing.install(previous)

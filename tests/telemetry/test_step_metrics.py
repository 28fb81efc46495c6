"""EMF lines as CloudWatch would read them from stdout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from runtime_core.session import UsageTotals
from runtime_core.telemetry import build_metrics, record_step_metrics


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[Metrics]:
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # As in template.yaml: the function's service name is set for the logger; it must not become a dimension.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "mozaiks-worker")
    built = build_metrics("MozaiksTest")
    yield built
    built.clear_metrics()


def emf_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if '"_aws"' in line]


USAGE = UsageTotals(calls=3, prompt_tokens=1200, completion_tokens=340, cost=0.0123)


def test_one_step_is_one_emf_line_with_low_cardinality_dimensions(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    record_step_metrics(metrics, "CustomerSupport", "app-1", USAGE, 812.5, user_id="u-1", session_id="s-1")
    [line] = emf_lines(capsys.readouterr().out)
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "MozaiksTest"
    assert directive["Dimensions"] == [["workflow", "app_id"], ["scope"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "Steps": "Count",
        "Errors": "Count",
        "ModelCalls": "Count",
        "PromptTokens": "Count",
        "CompletionTokens": "Count",
        "Cost": "None",
        "StepDuration": "Milliseconds",
    }
    assert (line["workflow"], line["app_id"]) == ("CustomerSupport", "app-1")
    values = {name: line[name] for name in units}
    assert values == {
        "Steps": [1.0],
        "Errors": [0.0],
        "ModelCalls": [3.0],
        "PromptTokens": [1200.0],
        "CompletionTokens": [340.0],
        "Cost": [0.0123],
        "StepDuration": [812.5],
    }
    # High-cardinality ids are properties of the log record, not dimensions; no service dimension either.
    assert (line["user_id"], line["session_id"]) == ("u-1", "s-1")
    assert "service" not in line


def test_steps_of_different_tenants_in_one_invocation_keep_their_own_dimensions(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    record_step_metrics(metrics, "CustomerSupport", "app-1", USAGE, 10.0)
    record_step_metrics(
        metrics, "Onboarding", "app-2", UsageTotals(), 20.0, "model_timeout", session_id="s-2"
    )
    first, second = emf_lines(capsys.readouterr().out)
    assert (first["workflow"], first["app_id"], first["Errors"]) == ("CustomerSupport", "app-1", [0.0])
    assert (second["workflow"], second["app_id"], second["Errors"]) == ("Onboarding", "app-2", [1.0])
    assert second["error"] == "model_timeout" and "user_id" not in second and "session_id" not in first


def test_bad_input_is_refused_before_anything_is_emitted(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="duration_ms"):
        record_step_metrics(metrics, "W", "app-1", USAGE, -1.0)
    assert emf_lines(capsys.readouterr().out) == []


def test_powertools_dev_mode_silently_disables_metrics(
    metrics: Metrics, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A trap worth a test: POWERTOOLS_DEV=true in a deployed function means no metrics at all.
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    record_step_metrics(metrics, "W", "app-1", USAGE, 1.0)
    assert emf_lines(capsys.readouterr().out) == []


def test_disabled_metrics_do_not_pile_up_in_a_warm_container(
    metrics: Metrics, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(3):
        record_step_metrics(metrics, "W", "app-1", USAGE, 1.0)
        assert metrics.metric_set == {}
    assert emf_lines(capsys.readouterr().out) == []


def test_what_the_user_waited_for_is_in_the_same_line(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime_core.telemetry import StepTimings

    timings = StepTimings(queue_wait_ms=40.0, end_to_end_ms=250.0, posts=2, posted_bytes=3072)
    record_step_metrics(metrics, "W", "app-1", USAGE, 120.0, session_id="s-1", timings=timings)
    [line] = emf_lines(capsys.readouterr().out)
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["workflow", "app_id"], ["scope"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert {k: units[k] for k in ("QueueWait", "StepEndToEnd", "Posts", "PostedBytes")} == {
        "QueueWait": "Milliseconds",
        "StepEndToEnd": "Milliseconds",
        "Posts": "Count",
        "PostedBytes": "Bytes",
    }
    # Not measured (a chained step has no client frame): absent, never a made-up 0.
    assert "FrameToFirstEvent" not in units and "FrameToFirstEvent" not in line
    assert (line["QueueWait"], line["StepEndToEnd"], line["Posts"], line["PostedBytes"]) == (
        [40.0],
        [250.0],
        [2.0],
        [3072.0],
    )
    assert line["StepDuration"] == [120.0]  # the engine's time stays what it was


def test_the_step_clock_measures_from_the_message() -> None:
    import time

    from runtime_core.queue import StepMessage
    from runtime_core.worker.observe import StepClock
    from runtime_core.worker.outbox import PostReport

    now = time.time()
    chained = StepMessage(
        session_id="s", app_id="a", user_id="u", reason="continue", dedup_id="d", enqueued_at=now - 2.0
    )
    clock = StepClock(chained)
    assert 2000.0 <= clock.queue_wait_ms <= 60_000.0  # type: ignore[operator]
    timings = clock.timings(PostReport(posts=3, bytes=900, first_post_at=now))
    assert (timings.posts, timings.posted_bytes, timings.frame_to_first_event_ms) == (3, 900, None)

    # A sender's clock ahead of the worker's never gives a negative wait.
    skewed = chained.model_copy(update={"enqueued_at": now + 30.0, "frame_at": now - 1.5})
    clock = StepClock(skewed)
    assert clock.queue_wait_ms == 0.0
    first = clock.timings(PostReport(posts=1, bytes=10, first_post_at=now)).frame_to_first_event_ms
    assert first == pytest.approx(1500.0)
    # Nothing posted: no first event to measure to.
    assert clock.timings(PostReport()).frame_to_first_event_ms is None


def test_steps_on_several_threads_never_mix_their_lines(
    metrics: Metrics, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    # A slow flush (a busy stdout) widens the window in which another thread could add its values.
    flush = metrics.flush_metrics

    def slow_flush(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.001)
        flush(*args, **kwargs)

    monkeypatch.setattr(metrics, "flush_metrics", slow_flush)

    # The local server steps sessions on threads sharing the container's Metrics: each line is one step's.
    def emit(n: int) -> None:
        for i in range(25):
            record_step_metrics(metrics, f"W{n}", f"app-{n}", USAGE, float(i), session_id=f"s-{n}")

    threads = [threading.Thread(target=emit, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 100
    for line in lines:
        n = line["workflow"][1:]
        assert (line["app_id"], line["session_id"], line["Steps"]) == (f"app-{n}", f"s-{n}", [1.0])
        assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["workflow", "app_id"], ["scope"]]

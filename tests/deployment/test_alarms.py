"""The alarms and the dashboard in template.yaml watch metrics the runtime really emits, under the dimensions
it really writes (a typo in a metric name is an alarm that never fires)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from runtime_core.session import UsageTotals
from runtime_core.telemetry import StepTimings, build_metrics, record_step_metrics
from tests.deployment.cfn import load_template

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")


@pytest.fixture(scope="module")
def emitted() -> tuple[set[str], list[list[str]]]:
    """Metric names and dimension sets of one step's EMF line, as the worker prints it."""
    import contextlib
    import io

    metrics = build_metrics("MozaiksAI")
    out = io.StringIO()
    timings = StepTimings(
        queue_wait_ms=1, end_to_end_ms=2, frame_to_first_event_ms=3, posts=1, posted_bytes=9
    )
    with contextlib.redirect_stdout(out):
        record_step_metrics(metrics, "W", "app", UsageTotals(), 1.0, timings=timings)
    [line] = [json.loads(x) for x in out.getvalue().splitlines() if '"_aws"' in x]
    [directive] = line["_aws"]["CloudWatchMetrics"]
    return {m["Name"] for m in directive["Metrics"]}, directive["Dimensions"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in TEMPLATE["Resources"].items() if r["Type"] == kind}


def test_the_issue_s_alarms_exist() -> None:
    alarms = of_type("AWS::CloudWatch::Alarm")
    watched = set()
    for alarm in alarms.values():
        namespace = alarm["Properties"]["Namespace"]
        watched.add((namespace if isinstance(namespace, str) else "ours", alarm["Properties"]["MetricName"]))
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("ours", "StepEndToEnd"),
        ("ours", "PostFailures"),
        ("ours", "Errors"),
    } <= watched
    for name, alarm in alarms.items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }, name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


def test_alarms_on_our_metrics_use_names_and_dimensions_the_worker_emits(
    emitted: tuple[set[str], list[list[str]]],
) -> None:
    names, dimension_sets = emitted
    ours = [
        a
        for a in of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == {"Ref": "MetricsNamespace"}
    ]
    assert len(ours) == 3
    for alarm in ours:
        props = alarm["Properties"]
        assert props["MetricName"] in names
        # An alarm needs fixed dimension values: the constant stack-wide set, not workflow / app_id.
        assert props["Dimensions"] == [{"Name": "scope", "Value": "all"}]
        assert [d["Name"] for d in props["Dimensions"]] in dimension_sets


def test_the_dashboard_plots_only_emitted_metrics(emitted: tuple[set[str], list[list[str]]]) -> None:
    names, _ = emitted
    [dashboard] = of_type("AWS::CloudWatch::Dashboard").values()
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables == {"Ns": {"Ref": "MetricsNamespace"}}
    # The body is JSON once its ${...} are substituted.
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    plotted = {
        row[1]
        for w in widgets
        if w["type"] == "metric"
        for row in w["properties"]["metrics"]
        if row[0] == "x"
    }
    assert plotted and plotted <= names
    assert {"FrameToFirstEvent", "StepEndToEnd", "QueueWait", "PostFailures", "Cost"} <= plotted

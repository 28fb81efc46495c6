"""Tracing in the deployed shape: the `sam build` artifacts with `OtelExporterEndpoint` set, a collector
listening; the SDK loads from the base layer, and one trace runs from the `$default` process through SQS into
the worker's process (its step, agent turns and model calls), exported as OTLP/HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.deployment.deployed_stack import Connection, Stack, connection_id
from tests.telemetry.otlp_collector import Collector, running_collector


@pytest.fixture
def collector() -> Iterator[str]:
    with running_collector() as url:
        yield url


def exported() -> list[dict[str, Any]]:
    spans = []
    for _, _, body in Collector.received:
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            service = next(
                a.value.string_value for a in resource.resource.attributes if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value for a in span.attributes}
                    spans.append(
                        {
                            "service": service,
                            "name": span.name,
                            "trace": span.trace_id,
                            "id": span.span_id,
                            "parent": span.parent_span_id,
                            "links": [link.span_id for link in span.links],
                            "attributes": attributes,
                        }
                    )
    return spans


def test_one_trace_from_default_to_the_model_call_across_processes(stack: Stack, collector: str) -> None:
    stack.parameters["OtelExporterEndpoint"] = collector
    stack.resolver = stack.resolver_for(stack.template)
    client = Connection(stack, connection_id(), stack.token())
    assert client.connect()["statusCode"] == 200
    client.send(
        {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    )
    message = stack.receive_one()
    assert message is not None
    stack.invoke("functions/worker.handler", stack.sqs_event(message)).ok()

    spans = exported()
    [frame] = [s for s in spans if s["name"] == "mozaiks.frame"]
    assert frame["service"] == "mozaiks-default" and frame["parent"] == b""
    [step] = [s for s in spans if s["name"] == "mozaiks.step"]
    # A different process (the worker), the same trace, the frame's span as parent: carried through SQS.
    assert step["service"] == "mozaiks-worker"
    assert (step["trace"], step["parent"]) == (frame["trace"], frame["id"])
    by_id = {s["id"]: s for s in spans}
    [call] = [s for s in spans if s["name"].startswith("chat ")]
    chain = []
    node = call
    while node["parent"] in by_id:
        node = by_id[node["parent"]]
        chain.append(node["name"])
    assert chain == ["invoke_agent SupportAgent", "mozaiks.engine", "mozaiks.step", "mozaiks.frame"]
    assert call["attributes"]["gen_ai.usage.input_tokens"].int_value > 0
    assert call["attributes"]["gen_ai.agent.name"].string_value == "SupportAgent"

"""The sample events in infra/events/ (what `sam local invoke` sends) through the real handlers, in order."""

from __future__ import annotations

from typing import Any

import pytest

from functions import connect, default, disconnect, worker
from runtime_core.services import get_services
from runtime_core.session import SessionStatus, Tenant, new_session
from runtime_core.worker import sqs_batch
from tests.functions.conftest import sample
from tests.functions.harness import Client, LambdaContext, events_of

SAMPLE_SECRET = "sample-secret-for-local-invoke-only-0123456789"
CONNECTION = "Jx1ABcDEoAMCJYQ="
TENANT = Tenant(app_id="demo-app", user_id="user-123")


def test_the_sample_events_drive_a_session(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOZAIKS_JWT_SECRET", SAMPLE_SECRET)
    # The samples name session s-6f1c2a: it exists (started earlier) and waits for its first message.
    store.create_session(
        new_session(get_services().workflow("CustomerSupport"), "s-6f1c2a", TENANT.app_id, TENANT.user_id)
    )
    client = Client(aws, CONNECTION)

    def send(name: str) -> list[dict[str, Any]]:
        assert default.handler(sample(name), LambdaContext("default")) == {"statusCode": 200}
        return client.poll()

    assert connect.handler(sample("connect.json"), LambdaContext("connect")) == {"statusCode": 200}
    assert send("default_ping.json") == [{"type": "pong", "msg_id": "m-0005"}]
    invalid = send("default_invalid.json")
    assert [(r["type"], r["code"]) for r in invalid] == [("error", "unknown_type")]
    assert "did you mean 'start'" in invalid[0]["message"]
    assert send("default_user_message.json") == [
        {"type": "ack", "msg_id": "m-0002", "session_id": "s-6f1c2a", "duplicate": False}
    ]

    response = worker.handler(sample("worker_sqs.json"), LambdaContext("worker"))
    assert response == {"batchItemFailures": []}
    assert sqs_batch.REPORTS[-1].action == "run" and sqs_batch.REPORTS[-1].why == "input"
    events = events_of(client.poll())
    assert [e["type"] for e in events[:2]] == ["run_started", "context_updated"]
    assert events[2] == {
        **events[2],
        "type": "user_message",
        "input_id": "m-0002",
        "text": "It was due on Monday.",
    }

    resumed = send("default_resume.json")  # after_seq 12: nothing that old yet beyond the step's events
    assert resumed[0]["type"] == "ack" and all(e["seq"] > 12 for e in events_of(resumed))
    refused = send("default_answer.json")
    assert [r["code"] for r in refused] == ["no_pending_request"]
    assert send("default_cancel.json") == [
        {"type": "ack", "msg_id": "m-0004", "session_id": "s-6f1c2a", "duplicate": False}
    ]
    started = send("default_start.json")
    assert started[0]["type"] == "ack" and started[0]["session_id"].startswith("s-")

    assert disconnect.handler(sample("disconnect.json"), LambdaContext("disconnect")) == {"statusCode": 200}
    assert store.get_connection(CONNECTION) is None
    assert store.get_session(TENANT, "s-6f1c2a").status != SessionStatus.completed

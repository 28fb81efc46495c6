"""Fixtures for the handler tests: AWS under moto, the embedded store, tokens, sample events."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from runtime_core.services import Services, install_services
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import management_api
from runtime_core.worker import models

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "infra" / "events"
WORKFLOWS = ROOT / "workflows"
SECRET = "functions-test-secret-0123456789-abcdefgh"
REGION = "us-east-1"
ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
QUEUE_NAME = "mozaiks-steps.fifo"
SERVICE = "mozaiks-functions-test"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def token(app_id: str = "app-1", user_id: str = "user-1", **extra: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "app_id": app_id, "iat": now, "exp": now + 600, **extra}, SECRET)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOZAIKS_JWT_SECRET": SECRET,
        "MOZAIKS_WORKFLOWS_DIR": str(WORKFLOWS),
        "MOZAIKS_MODEL": "scripted",
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "MOZAIKS_METRICS_NAMESPACE": "MozaiksTest",
        # The store keeps no endpoint per connection: the worker posts through the configured one.
        "MOZAIKS_WS_CALLBACK_URL": ENDPOINT,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    _reset_logger()
    runtime_logger.cache_clear()
    models.clear_cache()
    monkeypatch.setattr(management_api, "_CLIENTS", {})
    yield
    install_services(None)
    _reset_logger()


def _reset_logger() -> None:
    # Powertools configures the stdlib logger of a service once per process; pytest swaps stdout per test,
    # so a handler left from an earlier test would write to a closed stream (or to another test's).
    named = logging.getLogger(SERVICE)
    for handler in list(named.handlers):
        named.removeHandler(handler)
    for attribute in ("init", "powertools_handler"):
        if hasattr(named, attribute):
            delattr(named, attribute)


@pytest.fixture
def aws() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "1800"},
        )["QueueUrl"]
        yield AwsKit(sqs, url)


class AwsKit:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self.arn = f"arn:aws:sqs:{REGION}:123456789012:{QUEUE_NAME}"

    def posted(self, connection_id: str) -> bytes:
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION].connections
        # moto keys connections by the id as it appears in the URL path (API Gateway ids end in "=").
        key = urllib.parse.quote(connection_id, safe="")
        return bytes(connections[key].data) if key in connections else b""

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The event the SQS event source mapping hands the worker, from received messages."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": dict(m.get("Attributes", {})),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    from runtime_core.store.embedded import start_embedded

    server = start_embedded("memory")
    yield server.uri
    server.stop()


@pytest.fixture
def store(mongo_uri: str) -> Iterator[Any]:
    """The production MongoDB adapter on the embedded wire server; a fresh database per test."""
    from runtime_core.store.embedded import connect
    from runtime_core.store.mongo import MongoSessionStore, StoreSettings

    client = connect(mongo_uri)
    store = MongoSessionStore(client, StoreSettings(db_name=f"t{uuid.uuid4().hex[:12]}"))
    store.ensure_indexes()
    yield store
    client.drop_database(store.settings.db_name)
    client.close()


@pytest.fixture
def services(aws: AwsKit, store: Any) -> Services:
    from runtime_core.queue.sqs import SqsStepQueue

    installed = Services(
        store_factory=lambda: store,
        queue_factory=lambda: SqsStepQueue(aws.url, client=aws.sqs),
        workflows_dir=WORKFLOWS,
    )
    install_services(installed)
    return installed


BROKEN_CORPUS = ROOT / "tests" / "workflow" / "broken"


def broken_workflow(destination: Path, case: str = "duplicate_agent_names") -> Path:
    """A workflow of the broken corpus: its valid base with the case's files laid over it."""
    import shutil

    shutil.copytree(BROKEN_CORPUS.parent / "base", destination)
    for path in (BROKEN_CORPUS / case).iterdir():
        if path.name != "expected.yaml":
            shutil.copy(path, destination / path.name)
    return destination

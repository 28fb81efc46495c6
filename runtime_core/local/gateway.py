"""API Gateway WebSocket and SQS event shapes, built from what happens on a local socket.

The local server calls the very handlers Lambda runs, so it must hand them the events AWS would: same keys,
same casing, same string types (SQS attributes are strings, epochs are milliseconds). The sample events in
``infra/events/`` are the reference for these shapes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from runtime_core.queue.message import StepMessage

STAGE = "local"
API_ID = "local"
QUEUE_ARN = "arn:aws:sqs:local:000000000000:mozaiks-local-steps.fifo"


def new_connection_id() -> str:
    # API Gateway ids are 16 characters of base64 ending in "="; clients must treat them as opaque anyway.
    return base64.b64encode(secrets.token_bytes(10)).decode()[:15] + "="


def _request_time(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


class SocketInfo(BaseModel):
    """What the local server knows about one connection, fixed at the upgrade request."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    domain_name: str
    connected_at: int  # epoch milliseconds, like requestContext.connectedAt
    source_ip: str = "127.0.0.1"
    user_agent: str = ""

    @property
    def endpoint(self) -> str:
        # What the Management API endpoint (https://{domain}/{stage}) looks like for this server.
        return f"http://{self.domain_name}/{STAGE}"


def _request_context(info: SocketInfo, route: str, event_type: str, now_ms: int) -> dict[str, Any]:
    request_id = base64.b64encode(secrets.token_bytes(12)).decode()
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": _request_time(now_ms),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent},
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": API_ID,
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def connect_event(
    info: SocketInfo,
    headers: Mapping[str, list[str]],
    query: Mapping[str, list[str]],
) -> dict[str, Any]:
    """``$connect``: headers and query parameters in both single- and multi-value form, as API Gateway does
    (the single-value form keeps the last value; the auth code looks at both to spot duplicated tokens)."""
    return {
        "headers": {name: values[-1] for name, values in headers.items() if values},
        "multiValueHeaders": {name: list(values) for name, values in headers.items() if values},
        "queryStringParameters": {name: values[-1] for name, values in query.items() if values} or None,
        "multiValueQueryStringParameters": {name: list(v) for name, v in query.items() if v} or None,
        "requestContext": _request_context(info, "$connect", "CONNECT", _now_ms()),
        "isBase64Encoded": False,
    }


def message_event(info: SocketInfo, body: str | bytes) -> dict[str, Any]:
    """``$default``: the frame's text as ``body``; a binary frame travels base64-encoded, flagged as such."""
    now = _now_ms()
    context = _request_context(info, "$default", "MESSAGE", now)
    context["messageId"] = base64.b64encode(secrets.token_bytes(12)).decode()
    if isinstance(body, bytes):
        return {"requestContext": context, "body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(info: SocketInfo, status_code: int, reason: str) -> dict[str, Any]:
    context = _request_context(info, "$disconnect", "DISCONNECT", _now_ms())
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": {"Host": info.domain_name},
        "multiValueHeaders": {"Host": [info.domain_name]},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def sqs_event(message: StepMessage, receive_count: int = 1) -> dict[str, Any]:
    """One SQS FIFO record carrying a step message, as the Lambda event source mapping delivers it."""
    body = message.model_dump_json()
    now = str(_now_ms())
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": base64.b64encode(secrets.token_bytes(24)).decode(),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": now,
                    "SequenceNumber": str(time.time_ns()),
                    "MessageGroupId": message.session_id,
                    "SenderId": "local",
                    # Hashed exactly as SqsStepQueue sends it.
                    "MessageDeduplicationId": hashlib.sha256(
                        f"{message.session_id}:{message.dedup_id}".encode()
                    ).hexdigest(),
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "local",
            }
        ]
    }


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_seconds: int = 29) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

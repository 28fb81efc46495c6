"""A client that talks to the real handlers with API Gateway event shapes, and a driver for the step queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from functions import connect, default, disconnect, worker
from runtime_core.transport import Reassembler, split_posts
from tests.functions.conftest import AwsKit, sample, token


class LambdaContext:
    def __init__(self, name: str = "mozaiks-test", request_id: str = "req-test") -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def connect_event(connection_id: str, jwt_token: str | None, *, subprotocol: bool = False) -> dict[str, Any]:
    event = sample("connect_subprotocol.json" if subprotocol else "connect.json")
    event["requestContext"]["connectionId"] = connection_id
    if subprotocol:
        value = f"mozaiks.jwt, {jwt_token}" if jwt_token else "mozaiks.jwt"
        event["headers"]["Sec-WebSocket-Protocol"] = value
        event["multiValueHeaders"]["Sec-WebSocket-Protocol"] = [value]
    elif jwt_token is None:
        event["queryStringParameters"] = None
        event["multiValueQueryStringParameters"] = None
    else:
        event["queryStringParameters"] = {"token": jwt_token}
        event["multiValueQueryStringParameters"] = {"token": [jwt_token]}
    return event


def message_event(connection_id: str, body: str | bytes | dict[str, Any]) -> dict[str, Any]:
    event = sample("default_ping.json")
    event["requestContext"]["connectionId"] = connection_id
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, bytes):
        import base64

        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    return event


def disconnect_event(connection_id: str) -> dict[str, Any]:
    event = sample("disconnect.json")
    event["requestContext"]["connectionId"] = connection_id
    return event


class Client:
    """One WebSocket connection: frames go through $default; posts are read back (from moto by default)."""

    def __init__(
        self,
        aws: AwsKit,
        connection_id: str,
        app_id: str = "app-1",
        user_id: str = "user-1",
        posts: Callable[[str], list[Any]] | None = None,
    ) -> None:
        self.aws = aws
        self.connection_id = connection_id
        self.token = token(app_id, user_id)
        self._posts = posts or (lambda cid: split_posts(aws.posted(cid)) if aws.posted(cid) else [])
        self._read = 0
        self._reassembler = Reassembler()
        self.inbox: list[dict[str, Any]] = []

    def connect(self) -> dict[str, Any]:
        return connect.handler(connect_event(self.connection_id, self.token), LambdaContext("connect"))

    def send(self, frame: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
        """Send one frame; returns what arrived on the connection since the last read."""
        result = default.handler(message_event(self.connection_id, frame), LambdaContext("default"))
        assert result == {"statusCode": 200}
        return self.poll()

    def poll(self) -> list[dict[str, Any]]:
        posts = self._posts(self.connection_id)
        new, self._read = posts[self._read :], len(posts)
        messages: list[dict[str, Any]] = []
        for post in new:
            text = post if isinstance(post, str | bytes) else json.dumps(post)
            messages.extend(self._reassembler.feed(text))
        self.inbox.extend(messages)
        return messages

    def disconnect(self) -> dict[str, Any]:
        return disconnect.handler(disconnect_event(self.connection_id), LambdaContext("disconnect"))


def run_queue(aws: AwsKit, max_rounds: int = 50) -> list[dict[str, Any]]:
    """Receive from SQS, call the worker with the SQS event, delete what succeeded; until the queue drains.

    Returns the worker's responses. Records reported failed are made visible again at once (as SQS would
    after the visibility timeout).
    """
    responses = []
    for _ in range(max_rounds):
        messages = aws.receive()
        if not messages:
            return responses
        response = worker.handler(aws.sqs_event(messages), LambdaContext("worker"))
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                aws.sqs.change_message_visibility(
                    QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError(f"the queue did not drain in {max_rounds} rounds")


def events_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if "seq" in m]


def replies_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Control replies: no seq, and not the ephemeral text deltas of a streaming reply.
    return [m for m in messages if "seq" not in m and m.get("type") != "text_delta"]

"""The WebSocket side of the local server with recording handlers: what API Gateway would do for each
socket event, including the cases the real handlers never produce (a handler that raises)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from runtime_core.local.connections import ConnectionRegistry
from runtime_core.local.handlers import Handlers
from runtime_core.local.server import create_app


class Recorder:
    def __init__(self, registry: ConnectionRegistry, connect_response: dict[str, Any]) -> None:
        self.registry = registry
        self.connect_response = connect_response
        self.events: list[dict[str, Any]] = []
        self.disconnected = threading.Event()

    def connect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        # Like API Gateway: posting before $connect returns fails, the socket is not open yet.
        assert self.registry.send(event["requestContext"]["connectionId"], "{}") is False
        return self.connect_response

    def default(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        if event["body"] == "boom":
            raise RuntimeError("handler bug")
        # Replies are posted, never returned: there is no route response in the API.
        delivered = self.registry.send(event["requestContext"]["connectionId"], f"echo:{event['body']}")
        assert delivered
        return {"statusCode": 200, "body": "not sent to the client"}

    def disconnect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.disconnected.set()
        return {"statusCode": 200}


def _client(connect_response: dict[str, Any]) -> tuple[TestClient, Recorder]:
    registry = ConnectionRegistry()
    recorder = Recorder(registry, connect_response)
    handlers = Handlers(
        connect=recorder.connect,
        default=recorder.default,
        disconnect=recorder.disconnect,
        worker=lambda event, context: None,
        http_app=None,
    )
    return TestClient(create_app(handlers, registry)), recorder


def test_frames_become_default_events_and_posts_reach_the_socket() -> None:
    client, recorder = _client({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "mozaiks.jwt"}})
    with client.websocket_connect("/ws?token=a.b.c", subprotocols=["mozaiks.jwt", "a.b.c"]) as ws:
        assert ws.accepted_subprotocol == "mozaiks.jwt"
        ws.send_text('{"type":"ping"}')
        assert ws.receive_text() == 'echo:{"type":"ping"}'
        ws.close(1001, "going away")
        assert recorder.disconnected.wait(10)
    connect, message, disconnect = recorder.events
    cid = connect["requestContext"]["connectionId"]
    assert connect["queryStringParameters"] == {"token": "a.b.c"}
    assert connect["headers"]["Sec-Websocket-Protocol"] == "mozaiks.jwt, a.b.c"
    routes = [e["requestContext"]["routeKey"] for e in recorder.events]
    assert routes == ["$connect", "$default", "$disconnect"]
    assert {e["requestContext"]["connectionId"] for e in recorder.events} == {cid}
    assert message["body"] == '{"type":"ping"}'
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1001
    assert disconnect["requestContext"]["disconnectReason"] == "going away"


def test_a_refused_connect_is_the_http_status_of_the_upgrade() -> None:
    from starlette.testclient import WebSocketDenialResponse

    client, recorder = _client({"statusCode": 401, "body": "missing_token: no token"})
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws"):
        pass
    assert denied.value.status_code == 401
    assert denied.value.text == "missing_token: no token"
    assert [e["requestContext"]["routeKey"] for e in recorder.events] == ["$connect"]


def test_a_failing_default_handler_answers_like_api_gateway_and_keeps_the_socket() -> None:
    client, _ = _client({"statusCode": 200})
    with client.websocket_connect("/ws") as ws:
        ws.send_text("boom")
        assert '"Internal server error"' in ws.receive_text()
        ws.send_text("still here")
        assert ws.receive_text() == "echo:still here"


def test_a_closed_socket_reads_as_gone() -> None:
    client, recorder = _client({"statusCode": 200})
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        ws.receive_text()
    assert recorder.disconnected.wait(10)
    cid = recorder.events[0]["requestContext"]["connectionId"]
    assert recorder.registry.send(cid, "late") is False
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/elsewhere"):
        pass


def test_closing_the_gateway_waits_for_the_handler_calls_still_running() -> None:
    """At shutdown the store closes after the gateway: a $default or $disconnect still in its handler would
    meet a closed store, so ``close`` waits for them (within its timeout)."""
    release = threading.Event()
    entered = threading.Event()

    def slow_default(event: dict[str, Any], context: Any) -> None:
        entered.set()
        release.wait(10)

    noop = lambda event, context: {"statusCode": 200}  # noqa: E731
    handlers = Handlers(connect=noop, default=slow_default, disconnect=noop, worker=noop, http_app=None)
    app = create_app(handlers, ConnectionRegistry())
    gateway = app.state.gateway
    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_text("slow")
        assert entered.wait(5)
        assert gateway.calls_running == 1
        assert gateway.close(timeout=0.2) is False  # still in its handler
        release.set()
        assert gateway.close(timeout=5) is True
        assert gateway.calls_running == 0

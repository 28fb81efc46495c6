"""The local dev server: API Gateway's WebSocket routes, the HTTP API and the chat page on one port.

Each socket event becomes the API Gateway event Lambda would receive and goes to the same handler:
the upgrade request is ``$connect`` (its response decides whether the socket is accepted, and with which
subprotocol), every frame is ``$default``, the close is ``$disconnect``. Handlers are synchronous, as in
Lambda, so they run on a thread pool and the event loop stays free to move bytes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import mimetypes
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from runtime_core.local.connections import ConnectionRegistry
from runtime_core.local.gateway import (
    LambdaContext,
    SocketInfo,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
)
from runtime_core.local.handlers import Handler, Handlers

log = logging.getLogger("mozaiks.local")

STATIC_DIR = Path(__file__).parent / "static"
# The JavaScript client's declarations (client/mozaiks-client.d.ts): Python guesses .ts is an MPEG stream.
mimetypes.add_type("application/typescript", ".ts")
WS_PATH = "/ws"
API_PREFIX = "/api"
# What a browser sees when a refusal cannot be sent as an HTTP status: 1008 is "policy violation".
POLICY_VIOLATION = 1008
# API Gateway's answer when a route's Lambda fails: the client gets this message, the socket stays open.
INTERNAL_ERROR = '{"message": "Internal server error", "connectionId": "%s", "requestId": "%s"}'


def _header_name(name: str) -> str:
    # ASGI lowercases header names; API Gateway passes them as the client wrote them (handlers must not care).
    return "-".join(part.capitalize() for part in name.split("-"))


def _headers(websocket: WebSocket) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in websocket.scope.get("headers", []):
        name = _header_name(raw_name.decode("latin-1"))
        headers.setdefault(name, []).append(raw_value.decode("latin-1"))
    return headers


def _response_header(response: Mapping[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower() and isinstance(value, str):
            return value
    return None


class LocalGateway:
    """The WebSocket half of API Gateway, in front of the route handlers."""

    def __init__(self, handlers: Handlers, registry: ConnectionRegistry, threads: int = 64) -> None:
        self.handlers = handlers
        self.registry = registry
        # Larger than asyncio's default pool: a hundred sockets each waiting on $default must not queue
        # behind each other (Lambda would run them concurrently).
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mozaiks-route")
        # Handler calls running now: they use the store, so a shutdown waits for them before closing it.
        self._calls = 0
        self._calls_done = threading.Condition()

    def _counted(self, call: Callable[[], Any]) -> Any:
        with self._calls_done:
            self._calls += 1
        try:
            return call()
        finally:
            with self._calls_done:
                self._calls -= 1
                self._calls_done.notify_all()

    def _submit(self, call: Callable[[], Any]) -> Future[Any]:
        return self._executor.submit(self._counted, call)

    async def _invoke(self, handler: Handler, event: dict[str, Any], function: str) -> Any:
        call = functools.partial(handler, event, LambdaContext(function))
        return await asyncio.wrap_future(self._submit(call))

    @property
    def calls_running(self) -> int:
        with self._calls_done:
            return self._calls

    def close(self, timeout: float | None = 0.0) -> bool:
        """Take no more handler calls (queued ones are cancelled) and wait up to ``timeout`` seconds for the
        running ones; True when none is left. The server calls it once uvicorn has stopped, before the store
        closes: a $default or $disconnect still in its handler would otherwise meet a closed store."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._calls_done:
            while self._calls:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._calls_done.wait(remaining)
        return True

    async def serve(self, websocket: WebSocket) -> None:
        client = websocket.client
        info = SocketInfo(
            connection_id=new_connection_id(),
            domain_name=websocket.headers.get("host", "localhost"),
            connected_at=int(time.time() * 1000),
            source_ip=client.host if client else "127.0.0.1",
            user_agent=websocket.headers.get("user-agent", ""),
        )
        query = parse_qs(websocket.url.query, keep_blank_values=True)
        try:
            response = await self._invoke(
                self.handlers.connect, connect_event(info, _headers(websocket), query), "mozaiks-connect"
            )
        except Exception:
            log.exception("$connect failed for %s", info.connection_id)
            response = {"statusCode": 500, "body": "Internal server error"}
        status = int(response.get("statusCode", 200)) if isinstance(response, Mapping) else 200
        if status != 200:
            body = str(response.get("body") or "") if isinstance(response, Mapping) else ""
            await self._refuse(websocket, status, body)
            return

        subprotocol = (
            _response_header(response, "Sec-WebSocket-Protocol") if isinstance(response, Mapping) else None
        )
        await websocket.accept(subprotocol=subprotocol)
        self.registry.open(info.connection_id, websocket)
        expiry = asyncio.create_task(self._close_at_expiry(info))
        close_code, close_reason = 1005, ""
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or 1005)
                    close_reason = str(message.get("reason") or "")
                    break
                body: str | bytes | None = message.get("text")
                if body is None:
                    body = message.get("bytes") or b""
                await self._on_frame(websocket, info, body)
        except WebSocketDisconnect as exc:
            close_code, close_reason = exc.code, str(exc.reason or "")
        finally:
            expiry.cancel()
            self.registry.close(info.connection_id)
            # Submitted before anything is awaited: a socket task cancelled at shutdown must still run it.
            try:
                done = self._submit(functools.partial(self._disconnect, info, close_code, close_reason))
            except RuntimeError:  # the pool is already shut down
                return
            await asyncio.shield(asyncio.wrap_future(done))

    async def _close_at_expiry(self, info: SocketInfo) -> None:
        """API Gateway has no timer per connection (the sweeper closes expired ones within a minute); the
        local server closes each socket the moment its token expires, through the same ``close_expired``."""
        from runtime_core.routes.expiry import close_expired
        from runtime_core.services import get_services

        services = get_services()
        record = await asyncio.wrap_future(
            self._submit(lambda: services.store.get_connection(info.connection_id))
        )
        if record is None or record.token_expires_at is None:
            return
        delay = (record.token_expires_at - services.store.now()).total_seconds()
        await asyncio.sleep(max(delay, 0.0))
        try:
            close = functools.partial(close_expired, services, record, info.endpoint)
            await asyncio.wrap_future(self._submit(close))
        except Exception:
            log.exception("closing %s at its token's expiry failed", info.connection_id)

    def _disconnect(self, info: SocketInfo, code: int, reason: str) -> None:
        try:
            event = disconnect_event(info, code, reason)
            self.handlers.disconnect(event, LambdaContext("mozaiks-disconnect"))
        except Exception:
            # Best effort, like API Gateway's: connection records expire by TTL anyway.
            log.exception("$disconnect failed for %s", info.connection_id)

    async def _on_frame(self, websocket: WebSocket, info: SocketInfo, body: str | bytes) -> None:
        event = message_event(info, body)
        try:
            await self._invoke(self.handlers.default, event, "mozaiks-default")
        except Exception:
            log.exception("$default failed for %s", info.connection_id)
            request_id = event["requestContext"]["requestId"]
            if websocket.application_state == WebSocketState.CONNECTED:
                await websocket.send_text(INTERNAL_ERROR % (info.connection_id, request_id))

    async def _refuse(self, websocket: WebSocket, status: int, body: str) -> None:
        # API Gateway turns a non-200 $connect into the HTTP status of the upgrade: the socket never opens.
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(PlainTextResponse(body, status_code=status))
        else:
            await websocket.close(code=POLICY_VIOLATION, reason=body[:120])


def create_app(
    handlers: Handlers,
    registry: ConnectionRegistry,
    static_dir: Path = STATIC_DIR,
) -> FastAPI:
    """The ASGI app: ``/ws`` (WebSocket routes), ``/api`` (the HTTP API) and ``/`` (the chat page)."""
    app = FastAPI(title="MozaiksAI local server", docs_url=None, redoc_url=None, openapi_url=None)
    gateway = LocalGateway(handlers, registry)
    app.state.gateway = gateway

    @app.websocket(WS_PATH)
    async def websocket_route(websocket: WebSocket) -> None:
        await gateway.serve(websocket)

    if handlers.http_app is not None:
        app.mount(API_PREFIX, handlers.http_app)
    app.mount("/", StaticFiles(directory=static_dir, html=True), name="static")
    return app

"""Open sockets by connection id: the local stand-in for API Gateway's Management API.

Handlers post from worker threads, but a socket belongs to the event loop that accepted it. ``send`` hands
the payload to that loop and waits for the write, so the caller learns what ``post_to_connection`` would have
told it: delivered, or gone (410). A per-connection lock keeps concurrent posters (the step worker and a
``$default`` reply) from interleaving, and asyncio locks wake waiters in arrival order, so posts go out in the
order they were made.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

# A client that stops reading must not hold a step worker forever; API Gateway gives up too.
SEND_TIMEOUT_SECONDS = 30.0
# Close codes for the reasons the server closes a socket (API Gateway's DELETE @connections sends none).
CLOSE_CODES = {"token_expired": 4401}
NORMAL_CLOSURE = 1000


class OpenSocket:
    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.websocket = websocket
        self.loop = loop
        self.lock = asyncio.Lock()
        self.closed = False

    async def write(self, payload: str) -> bool:
        async with self.lock:
            if self.closed:
                return False
            try:
                await self.websocket.send_text(payload)
            except Exception:  # any transport failure means the client is gone, as a 410 would
                self.closed = True
                return False
            return True

    async def close(self, code: int, reason: str) -> bool:
        # Under the lock: a post being written goes out whole before the close frame.
        async with self.lock:
            if self.closed:
                return False
            self.closed = True
            try:
                await self.websocket.close(code=code, reason=reason)
            except Exception:  # already gone
                return False
            return True


class ConnectionRegistry:
    def __init__(self, send_timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self._sockets: dict[str, OpenSocket] = {}
        self._lock = threading.Lock()
        self._send_timeout = send_timeout

    def open(self, connection_id: str, websocket: WebSocket) -> None:
        """Register an accepted socket: only now can it be posted to (in API Gateway: after $connect)."""
        with self._lock:
            self._sockets[connection_id] = OpenSocket(websocket, asyncio.get_running_loop())

    def close(self, connection_id: str) -> None:
        with self._lock:
            socket = self._sockets.pop(connection_id, None)
        if socket is not None:
            socket.closed = True

    def is_open(self, connection_id: str) -> bool:
        with self._lock:
            socket = self._sockets.get(connection_id)
        return socket is not None and not socket.closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._sockets)

    def close_socket(self, connection_id: str, reason: str) -> bool:
        """Close a socket from the server's side, as DELETE @connections does (the poster's ``close``)."""
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None or socket.closed:
            return False
        code = CLOSE_CODES.get(reason, NORMAL_CLOSURE)
        try:
            future: Future[bool] = asyncio.run_coroutine_threadsafe(socket.close(code, reason), socket.loop)
            return future.result(timeout=self._send_timeout)
        except Exception:
            return False

    def send(self, connection_id: str, payload: str) -> bool:
        """Write one post; False when the socket is closed or unknown (the poster treats that as 410)."""
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None or socket.closed:
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is socket.loop:
            # Blocking here would deadlock the loop; handlers run in threads, so this is a misuse.
            raise RuntimeError(
                "ConnectionRegistry.send must be called from a worker thread, not the event loop"
            )
        try:
            future: Future[bool] = asyncio.run_coroutine_threadsafe(socket.write(payload), socket.loop)
        except RuntimeError:  # the loop is closed: the server is shutting down
            return False
        try:
            return future.result(timeout=self._send_timeout)
        except TimeoutError:
            future.cancel()
            log.warning("connection %s did not take a post within %.0f s", connection_id, self._send_timeout)
            socket.closed = True
            return False
        except Exception:
            return False

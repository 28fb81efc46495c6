"""A Python client of the WebSocket protocol, used by ``mozaiks chat``, the end-to-end tests and the bench.

What every client has to get right, and where it is done here:

* posts are single messages, batches or chunks: ``Reassembler`` turns them back into messages;
* a message with ``seq`` is a session event, one without is a control reply (ack, pong, error);
* events are numbered 1, 2, 3 ... per session: ``EventLog`` drops what it has already seen (a resume and a
  live post can carry the same event) and holds back an event that arrives ahead of a gap until the gap fills;
* after a dropped connection, reconnect (a new connection id) and send ``resume`` with the last contiguous
  ``seq``: the server replays the rest, then the session continues live.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runtime_core.auth.handshake import TOKEN_SUBPROTOCOL
from runtime_core.transport.framing import Reassembler

Message = dict[str, Any]
TERMINAL_EVENTS = frozenset({"run_completed"})


def new_msg_id() -> str:
    return f"m-{uuid.uuid4().hex[:16]}"


class EventLog:
    """The events of one session in ``seq`` order, each once."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.duplicates = 0
        # Events up to here were never wanted (a resume from a later seq than 0); ``events`` starts after it.
        self.base = 0
        self._ahead: dict[int, Message] = {}

    @property
    def last_seq(self) -> int:
        """The highest seq with nothing missing before it: what ``resume`` asks to continue after."""
        return self.base + len(self.events)

    def start_after(self, seq: int) -> None:
        if not self.events and not self._ahead:
            self.base = seq

    def add(self, event: Message) -> list[Message]:
        """Record ``event``; return the events that became deliverable, in order (none for a duplicate)."""
        seq = int(event["seq"])
        if seq <= self.last_seq or seq in self._ahead:
            self.duplicates += 1
            return []
        self._ahead[seq] = event
        ready: list[Message] = []
        while self.last_seq + 1 in self._ahead:
            nxt = self._ahead.pop(self.last_seq + 1)
            self.events.append(nxt)
            ready.append(nxt)
        return ready

    @property
    def waiting(self) -> bool:
        """True when events arrived past a gap that has not filled yet."""
        return bool(self._ahead)


class Refused(Exception):
    """The server refused the WebSocket upgrade ($connect answered with this HTTP status)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class ClientOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    token: str | None = None
    # Send the token as the "mozaiks.jwt" subprotocol (kept out of URLs and logs) instead of ?token=.
    token_in_subprotocol: bool = True
    open_timeout: float = 10.0


class SessionClient:
    """One user's view of one session, across as many connections as it takes."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.log = EventLog()
        self.session_id: str | None = None
        self.connections = 0
        self._ws: ClientConnection | None = None
        self._reassembler = Reassembler()
        self._inbox: deque[Message] = deque()

    # ---- connection ----------------------------------------------------------------------------------
    async def connect(self) -> None:
        url, subprotocols = self.options.url, None
        token = self.options.token
        if token and self.options.token_in_subprotocol:
            subprotocols = [TOKEN_SUBPROTOCOL, token]
        elif token:
            url += ("&" if "?" in url else "?") + f"token={token}"
        try:
            self._ws = await connect(
                url,
                subprotocols=subprotocols,  # type: ignore[arg-type]
                open_timeout=self.options.open_timeout,
                max_size=None,
                compression=None,
            )
        except InvalidStatus as exc:
            body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
            raise Refused(exc.response.status_code, body) from exc
        self._reassembler = Reassembler()
        self.connections += 1

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def drop(self) -> None:
        """Lose the connection the way a network does: no goodbye, just a closed transport."""
        if self._ws is not None:
            self._ws.transport.abort()
            self._ws = None

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def reconnect(self) -> None:
        """A new connection, then ``resume`` from the last contiguous seq (nothing is lost while away)."""
        await self.drop()
        await self.connect()
        if self.session_id is not None:
            await self.send({"type": "resume", "session_id": self.session_id, "after_seq": self.log.last_seq})

    # ---- frames --------------------------------------------------------------------------------------
    async def send(self, frame: Message) -> None:
        if self._ws is None:
            raise ConnectionError("not connected")
        await self._ws.send(json.dumps(frame))

    async def start(self, workflow: str, message: str | None = None, timeout: float = 30.0) -> str:
        """Start a session and wait for its ack; returns the session id."""
        msg_id = new_msg_id()
        frame: Message = {"type": "start", "workflow": workflow, "msg_id": msg_id}
        if message:
            frame["message"] = message
        await self.send(frame)
        reply = await self.wait_reply(msg_id, timeout)
        if reply["type"] != "ack" or not reply.get("session_id"):
            raise RuntimeError(f"start refused: {reply}")
        self.session_id = str(reply["session_id"])
        return self.session_id

    async def resume(self, session_id: str, after_seq: int = 0) -> None:
        self.session_id = session_id
        self.log.start_after(after_seq)
        await self.send({"type": "resume", "session_id": session_id, "after_seq": after_seq})

    async def say(self, text: str, msg_id: str | None = None) -> str:
        msg_id = msg_id or new_msg_id()
        await self.send(
            {"type": "user_message", "session_id": self.session_id, "msg_id": msg_id, "text": text}
        )
        return msg_id

    async def answer(
        self, request_id: str, data: dict[str, Any] | None, text: str | None = None, msg_id: str | None = None
    ) -> str:
        msg_id = msg_id or new_msg_id()
        frame: Message = {
            "type": "answer",
            "session_id": self.session_id,
            "msg_id": msg_id,
            "request_id": request_id,
        }
        if data is not None:
            frame["data"] = data
        if text is not None:
            frame["text"] = text
        await self.send(frame)
        return msg_id

    async def respond(
        self, request: Message, text: str = "", data: dict[str, Any] | None = None, msg_id: str | None = None
    ) -> str:
        """Answer an ``input_request``: a user turn takes a message, a UI tool takes an answer with data.

        Pass the same ``msg_id`` when sending again after a reconnect: the server records input once per id.
        """
        if request.get("kind") == "ui_tool":
            payload = data if data is not None else {"text": text}
            return await self.answer(str(request["request_id"]), payload, msg_id=msg_id)
        return await self.say(text, msg_id=msg_id)

    # ---- receiving -----------------------------------------------------------------------------------
    async def receive_post(self, timeout: float | None) -> None:
        """Read one post and file what it carries (duplicates are counted and dropped)."""
        if self._ws is None:
            raise ConnectionError("not connected")
        raw = await asyncio.wait_for(self._ws.recv(), timeout)
        for message in self._reassembler.feed(raw):
            if isinstance(message.get("seq"), int):
                self._inbox.extend(self.log.add(message))
            else:
                self._inbox.append(message)

    async def next(self, timeout: float | None = 30.0) -> Message:
        """The next control reply or new session event (in seq order, duplicates dropped)."""
        while not self._inbox:
            await self.receive_post(timeout)
        return self._inbox.popleft()

    async def wait_reply(self, msg_id: str, timeout: float = 30.0) -> Message:
        """The control reply to ``msg_id``; events that arrive meanwhile stay queued for ``next``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index, message in enumerate(self._inbox):
                if "seq" not in message and message.get("msg_id") == msg_id:
                    del self._inbox[index]
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no reply to {msg_id}")
            await self.receive_post(remaining)

    async def play(
        self,
        inputs: Sequence[str | dict[str, Any]],
        *,
        timeout: float = 60.0,
        drop_after_seq: Collection[int] = (),
        drop_after_input: Collection[int] = (),
    ) -> Message:
        """Follow the session to its end, answering input requests from ``inputs`` in order (text for a user
        turn, a dict for a UI tool). Returns the closing event (``run_completed``, or an unrecoverable error).

        ``drop_after_seq`` / ``drop_after_input`` lose the connection right after that event / after sending
        that input (1-based), then reconnect and resume: what a flaky network does, on purpose.
        """
        pending = list(inputs)
        sent = 0
        while True:
            try:
                message = await self.next(timeout)
            except (ConnectionClosed, ConnectionError):
                await self.reconnect()
                continue
            if "seq" not in message:
                if message.get("type") == "error" and message.get("code") == "session_not_found":
                    return message
                continue
            kind = message["type"]
            if kind == "input_request":
                if not pending:
                    raise RuntimeError(f"the workflow asked for input #{sent + 1}; none is left: {message}")
                item = pending.pop(0)
                request = message["request"]
                if isinstance(item, dict):
                    await self.respond(request, data=item)
                else:
                    await self.respond(request, text=item)
                sent += 1
                if sent in drop_after_input:
                    await self.reconnect()
            elif kind == "run_completed" or (kind == "error" and not message.get("recoverable", True)):
                return message
            if message["seq"] in drop_after_seq:
                await self.reconnect()


__all__ = ["ClientOptions", "EventLog", "Refused", "SessionClient", "new_msg_id"]

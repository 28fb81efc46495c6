"""A client that outlives the server it talks to, for the crash-injection tests and the recovery bench.

It plays one session of an example workflow to its end, answering input requests from the workflow's
``script.yaml``, and does what a real client does when the server dies under it: reconnect (retrying while
the server is down), ``resume`` from the last contiguous seq, and send again, under the same msg_id, every
frame the server never acknowledged (a ``start`` or an input: the server records each msg_id once). It keeps
what the tests check afterwards: the msg_ids the server acknowledged, the events in seq order, when each
event arrived, and how many times it reconnected and resumed.

msg_ids are derived from ``key``, so two runs of the same workflow (an uninterrupted one and a crashed one)
send the same ids and store the same ``user_message`` events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from runtime_core.llm.script import load_script
from runtime_core.local.client import ClientOptions, Message, SessionClient

# What connecting to a server that is down or dying raises (refused, reset, a handshake cut short).
_DOWN = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ConnectionError)
# Refusals of a frame that mean "send it again" (the store or the queue failed while handling it).
_RETRY_CODES = frozenset({"unavailable"})

Input = str | dict[str, Any]


def scripted_inputs(workflows: Path, workflow: str) -> list[Input]:
    script = load_script(workflows / workflow / "script.yaml")
    return [u.answer if u.answer is not None else u.text for u in script.user_inputs]


class CrashTolerantSession:
    """One session of ``workflow``, played to its end across server crashes (see the module docstring).

    ``may_reconnect``: cleared, the client stays away after losing its connection until it is set again
    (the bench measures what a session does with nobody connected)."""

    def __init__(
        self,
        url: str,
        token: str,
        workflow: str,
        inputs: Sequence[Input],
        *,
        key: str,
        event_timeout: float = 90.0,
        down_timeout: float = 120.0,
    ) -> None:
        self.workflow = workflow
        self.key = key
        self.client = SessionClient(ClientOptions(url=url, token=token, open_timeout=30))
        self.start_msg_id = f"start-{key}"
        self.session_id: str | None = None
        self._inputs = list(inputs)
        self._answered = 0
        # Frames sent and not acknowledged yet: msg_id -> (input request, scripted input).
        self._unacked: dict[str, tuple[Message, Input]] = {}
        self.acked: list[str] = []
        self.refusals: list[Message] = []
        # Wall-clock arrival time of each event, by seq (compared with the events' own ``ts``).
        self.arrivals: dict[int, float] = {}
        self.reconnects = 0
        self.resumes = 0
        self.end: Message | None = None
        self.may_reconnect = asyncio.Event()
        self.may_reconnect.set()
        self._event_timeout = event_timeout
        self._down_timeout = down_timeout

    @property
    def events(self) -> list[Message]:
        return self.client.log.events

    @property
    def last_seq(self) -> int:
        return self.client.log.last_seq

    @property
    def sent(self) -> list[str]:
        """Every input msg_id sent so far, in order."""
        return [self._msg_id(n) for n in range(1, self._answered + 1)]

    def _msg_id(self, n: int) -> str:
        return f"{self.key}-in-{n}"

    # ---- the run -----------------------------------------------------------------------------------------
    async def run(self) -> Message:
        """Play the session to its closing event (``run_completed`` or an unrecoverable ``error``)."""
        await self._open()
        while self.end is None:
            try:
                message = await self.client.next(timeout=self._event_timeout)
            except TimeoutError as exc:  # first: TimeoutError is an OSError, which _DOWN catches
                raise TimeoutError(
                    f"{self.workflow} ({self.session_id}): no event for {self._event_timeout:g} s after seq "
                    f"{self.last_seq}"
                ) from exc
            except _DOWN:
                await self._reopen()
                continue
            try:
                await self._handle(message)
            except _DOWN:
                await self._reopen()
        await self.client.close()
        return self.end

    async def start_and_leave(self, timeout: float = 30.0) -> str:
        """Start the session, wait for its ack, and close the connection: nobody follows it from then on."""
        await self._open()
        while self.session_id is None:
            await self._handle(await self.client.next(timeout=timeout))
        await self.client.close()
        return self.session_id

    async def _handle(self, message: Message) -> None:
        if "seq" not in message:
            await self._reply(message)
            return
        self.arrivals[int(message["seq"])] = time.time()
        kind = message["type"]
        if kind == "input_request":
            await self._answer(message["request"])
        elif kind == "run_completed" or (kind == "error" and not message.get("recoverable", True)):
            self.end = message

    async def _reply(self, reply: Message) -> None:
        msg_id = reply.get("msg_id")
        if reply["type"] == "ack":
            if msg_id == self.start_msg_id and self.session_id is None:
                self.session_id = self.client.session_id = str(reply["session_id"])
                if reply.get("duplicate"):
                    # A start sent again after a crash: events may have been posted to the dead connection.
                    await self._resume()
            elif msg_id in self._unacked:
                del self._unacked[msg_id]
                self.acked.append(msg_id)
        elif reply["type"] == "error" and msg_id is not None:
            self.refusals.append(reply)
            if reply.get("code") in _RETRY_CODES:
                await asyncio.sleep(0.2)
                await self._send_again(msg_id)

    async def _answer(self, request: Message) -> None:
        if self._answered >= len(self._inputs):
            raise RuntimeError(f"{self.workflow} asked for input #{self._answered + 1}; none is scripted")
        item = self._inputs[self._answered]
        self._answered += 1
        msg_id = self._msg_id(self._answered)
        self._unacked[msg_id] = (request, item)
        await self._send_input(msg_id)

    async def _send_input(self, msg_id: str) -> None:
        request, item = self._unacked[msg_id]
        if isinstance(item, dict):
            await self.client.respond(request, data=item, msg_id=msg_id)
        else:
            await self.client.respond(request, text=item, msg_id=msg_id)

    async def _send_again(self, msg_id: str) -> None:
        if msg_id == self.start_msg_id and self.session_id is None:
            await self._send_start()
        elif msg_id in self._unacked:
            await self._send_input(msg_id)

    async def _send_start(self) -> None:
        await self.client.send({"type": "start", "workflow": self.workflow, "msg_id": self.start_msg_id})

    async def _resume(self) -> None:
        assert self.session_id is not None
        self.resumes += 1
        await self.client.send({"type": "resume", "session_id": self.session_id, "after_seq": self.last_seq})

    # ---- connections -------------------------------------------------------------------------------------
    async def _open(self) -> None:
        """Connect (retrying while the server is down), then start, or resume and resend unacked inputs."""
        while True:
            await self._connect()
            try:
                if self.session_id is None:
                    await self._send_start()
                else:
                    await self._resume()
                    for msg_id in list(self._unacked):
                        await self._send_input(msg_id)
                return
            except _DOWN:
                continue

    async def _reopen(self) -> None:
        await self.client.drop()
        await self.may_reconnect.wait()
        self.reconnects += 1
        await self._open()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._down_timeout
        while True:
            try:
                await self.client.connect()
                return
            except _DOWN:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)

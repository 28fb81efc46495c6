"""``mozaiks chat WORKFLOW``: talk to a workflow over the WebSocket, in the terminal.

It starts a session on a running server (``mozaiks serve``, or a deployed API), prints what the agents do and
asks you when the workflow waits for input. A UI tool is answered with ``key=value`` pairs or a JSON object.
If the connection drops it reconnects and replays what it missed (``resume`` with the last seq).

Exit status: 0 when the run ended, 1 on an error or when input ran out, 2 when no token was found, 3 when the
server refused the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from runtime_core.console import describe

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NO_TOKEN = 2
EXIT_REFUSED = 3
RECONNECT_ATTEMPTS = 8


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chat",
        help="chat with a workflow over the WebSocket API",
        description="Start a session of WORKFLOW on a running server and chat with it in the terminal.",
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name on the server")
    parser.add_argument("--url", default="ws://localhost:8000/ws", help="default: ws://localhost:8000/ws")
    parser.add_argument(
        "--token",
        default=None,
        help="a JWT (default: $MOZAIKS_TOKEN, else the dev token `mozaiks serve` wrote under .mozaiks/)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR", help="where serve keeps dev-token"
    )
    parser.add_argument("--message", default=None, metavar="TEXT", help="the first user message")
    parser.add_argument(
        "--session", default=None, metavar="ID", help="resume this session instead of starting"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the server (default 120)"
    )
    return parser


def resolve_token(explicit: str | None, data_dir: Path | None) -> str | None:
    from runtime_core.local.credentials import read_dev_token
    from runtime_core.local.data_dir import default_data_dir

    if explicit:
        return explicit
    from_env = os.environ.get("MOZAIKS_TOKEN", "").strip()
    if from_env:
        return from_env
    return read_dev_token(data_dir or default_data_dir())


def parse_ui_answer(line: str) -> dict[str, Any]:
    """JSON object as is; ``start=2026-06-05 end=2026-06-08`` as pairs; anything else as ``{"text": ...}``."""
    text = line.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    pairs = [p for p in text.replace(",", " ").split() if "=" in p]
    if pairs and len(pairs) == len(text.replace(",", " ").split()):
        return dict(p.split("=", 1) for p in pairs)
    return {"text": text}


class _Chat:
    def __init__(self, args: argparse.Namespace, token: str, out: TextIO, stdin: TextIO) -> None:
        from runtime_core.local.client import ClientOptions, SessionClient

        self.args = args
        self.out = out
        self.stdin = stdin
        self.client = SessionClient(ClientOptions(url=args.url, token=token))
        self.usage: dict[str, Any] | None = None

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def read_line(self, prompt: str) -> str | None:
        self.print(prompt)
        line = await asyncio.to_thread(self.stdin.readline)
        return line.rstrip("\n") if line else None

    async def reconnect(self) -> None:
        from runtime_core.local.client import Refused

        for attempt in range(RECONNECT_ATTEMPTS):
            await asyncio.sleep(min(0.25 * 2**attempt, 8.0))
            try:
                await self.client.reconnect()
            except Refused:
                raise
            except OSError:
                continue
            self.print(f"… reconnected; replaying from seq {self.client.log.last_seq + 1}")
            return
        raise ConnectionError("the server is unreachable")

    async def run(self) -> int:
        from websockets.exceptions import ConnectionClosed

        await self.client.connect()
        if self.args.session:
            await self.client.resume(self.args.session, 0)
            self.print(f"session {self.args.session} (resumed)")
        else:
            session = await self.client.start(
                self.args.workflow, self.args.message, timeout=self.args.timeout
            )
            self.print(f"session {session}")
        while True:
            try:
                message = await self.client.next(timeout=self.args.timeout)
            except (ConnectionClosed, ConnectionError):
                self.print("… connection lost")
                await self.reconnect()
                continue
            if "seq" not in message:
                if message.get("type") == "error":
                    self.print(f"! {message.get('code')}: {message.get('message')}")
                    if message.get("code") == "session_not_found":
                        return EXIT_ERROR
                continue
            status = await self.on_event(message)
            if status is not None:
                return status

    async def on_event(self, event: dict[str, Any]) -> int | None:
        line = describe(event, you=True)
        if line:
            self.print(line)
        kind = event["type"]
        if kind == "usage":
            self.usage = event
        elif kind == "input_request":
            return await self.answer(event["request"])
        elif kind == "run_completed":
            self.print_usage()
            return EXIT_OK
        elif kind == "error" and not event.get("recoverable", True):
            self.print_usage()
            return EXIT_ERROR
        return None

    async def answer(self, request: dict[str, Any]) -> int | None:
        if request.get("kind") == "ui_tool":
            self.print(
                f"? {request.get('tool_name')} asks: {json.dumps(request.get('ui'), ensure_ascii=False)}"
            )
            line = await self.read_line("  answer with key=value pairs or a JSON object:")
            if line is None:
                self.print("! no more input")
                return EXIT_ERROR
            await self.deliver(request, data=parse_ui_answer(line))
            return None
        while True:
            line = await self.read_line(f"? {request.get('prompt') or 'Your reply'}:")
            if line is None:
                self.print("! no more input")
                return EXIT_ERROR
            if line.strip():
                await self.deliver(request, text=line.strip())
                return None

    async def deliver(
        self, request: dict[str, Any], text: str = "", data: dict[str, Any] | None = None
    ) -> None:
        from websockets.exceptions import ConnectionClosed

        from runtime_core.local.client import new_msg_id

        # One id for every attempt: if the first send got through, the server acks the retry as a duplicate.
        msg_id = new_msg_id()
        while True:
            try:
                await self.client.respond(request, text=text, data=data, msg_id=msg_id)
                return
            except (ConnectionClosed, ConnectionError):
                self.print("… connection lost")
                await self.reconnect()

    def print_usage(self) -> None:
        if self.usage:
            u = self.usage
            self.print(
                f"usage: {u['total_prompt_tokens']} prompt + {u['total_completion_tokens']} completion "
                f"tokens, ${u['total_cost']:.6f}"
            )


def run(args: argparse.Namespace, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    from runtime_core.local.client import Refused

    out = out or sys.stdout
    token = resolve_token(args.token, args.data_dir)
    if not token:
        print(
            "error: no token: pass --token, set MOZAIKS_TOKEN, or start `mozaiks serve` here (it writes "
            ".mozaiks/dev-token)",
            file=out,
        )
        return EXIT_NO_TOKEN
    chat = _Chat(args, token, out, stdin or sys.stdin)
    try:
        return asyncio.run(chat.run())
    except Refused as exc:
        print(f"error: the server refused the connection: {exc}", file=out)
        return EXIT_REFUSED
    except (OSError, TimeoutError, ConnectionError) as exc:
        print(f"error: {exc or type(exc).__name__} ({args.url})", file=out)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR

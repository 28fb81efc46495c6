"""``mozaiks serve`` closes a socket when its token expires: a ``closing`` message, then close code 4401."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from local_server import RunningServer, server_process
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

SCRIPT = Path(__file__).parent / "serve_without_sweeper.py"


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # No clock-skew leeway: a token's expiry is the moment its connection closes. No sweeper either (it would
    # close expired connections too): the socket's own timer is what is tested.
    work: Path = tmp_path_factory.mktemp("serve-expiry")
    env = {"MOZAIKS_JWT_LEEWAY_SECONDS": "0"}
    with server_process(work, env=env, command=[sys.executable, str(SCRIPT)]) as started:
        yield started.server


def _token(server: RunningServer, lifetime: int) -> str:
    claims = {"app_id": "local", "sub": "developer", "exp": int(time.time()) + lifetime}
    return jwt.encode(claims, server.secret, algorithm="HS256")


def test_the_socket_closes_when_its_token_expires(strict_server: RunningServer) -> None:
    token = _token(strict_server, 3)

    async def session() -> tuple[list[dict[str, object]], int | None, str]:
        received: list[dict[str, object]] = []
        async with connect(strict_server.ws_url, subprotocols=["mozaiks.jwt", token]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1"}))
            try:
                while True:
                    # Bounded: a socket left open past its token's expiry fails here instead of hanging.
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
            except ConnectionClosed as closed:
                frame = closed.rcvd
                return received, frame.code if frame else None, frame.reason if frame else ""

    received, code, reason = asyncio.run(session())
    assert received[0]["type"] == "ack"
    assert received[-1] == {
        "type": "closing",
        "code": "token_expired",
        "message": "the token of this connection expired: reconnect with a new token, then resume",
    }
    assert (code, reason) == (4401, "token_expired")


def test_the_http_check_says_expired_once_it_is(strict_server: RunningServer) -> None:
    token = _token(strict_server, -5)
    response = httpx.get(
        f"{strict_server.http_url}/api/token", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 401 and response.json()["error"] == "expired"
    fresh = httpx.get(
        f"{strict_server.http_url}/api/token",
        headers={"Authorization": f"Bearer {_token(strict_server, 600)}"},
        timeout=10,
    )
    assert fresh.status_code == 200 and fresh.json()["user_id"] == "developer"

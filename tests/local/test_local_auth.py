"""Who may connect to ``mozaiks serve``, and what one tenant can see of another's sessions."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from local_server import RunningServer
from websockets.asyncio.client import connect

from runtime_core.local.client import ClientOptions, Refused, SessionClient
from runtime_core.local.credentials import mint_token


def _refusal(server: RunningServer, token: str | None, in_subprotocol: bool = True) -> Refused:
    async def attempt() -> None:
        client = SessionClient(
            ClientOptions(url=server.ws_url, token=token, token_in_subprotocol=in_subprotocol)
        )
        await client.connect()

    with pytest.raises(Refused) as refused:
        asyncio.run(attempt())
    return refused.value


def test_a_missing_token_is_refused_before_the_socket_opens(server: RunningServer) -> None:
    refused = _refusal(server, None)
    assert refused.status == 401
    assert "missing_token" in refused.body


def test_a_token_signed_with_another_secret_is_refused(server: RunningServer) -> None:
    forged = mint_token("another-secret-that-is-long-enough-0123456789")
    refused = _refusal(server, forged)
    assert refused.status == 401
    assert "invalid_signature" in refused.body


def test_an_expired_token_is_refused(server: RunningServer) -> None:
    claims = {"app_id": "local", "sub": "developer", "exp": int(time.time()) - 3600}
    refused = _refusal(server, jwt.encode(claims, server.secret, algorithm="HS256"), in_subprotocol=False)
    assert refused.status == 401
    assert "expired" in refused.body


@pytest.mark.parametrize("in_subprotocol", [True, False], ids=["subprotocol", "query"])
def test_a_token_over_8_kb_is_refused_as_too_large_not_left_hanging(
    server: RunningServer, in_subprotocol: bool
) -> None:
    # uvicorn's WebSocket parser stops at header lines of 8,192 bytes: without care the upgrade hangs until
    # the client gives up. The client's open_timeout (10 s) turns a hang into a failure here.
    claims = {"app_id": "local", "sub": "developer", "exp": int(time.time()) + 3600, "pad": "x" * 9000}
    token = jwt.encode(claims, server.secret, algorithm="HS256")
    assert len(token) > 8192
    refused = _refusal(server, token, in_subprotocol=in_subprotocol)
    assert refused.status == 401
    assert "token_too_large" in refused.body


def test_a_request_too_large_to_read_is_refused_with_a_status(server: RunningServer) -> None:
    token = "a" * 100_000  # past even the raised line limit: the library refuses it (431)
    refused = _refusal(server, token, in_subprotocol=True)
    assert refused.status == 431


def test_a_token_without_a_tenant_claim_is_forbidden(server: RunningServer) -> None:
    claims = {"sub": "developer", "exp": int(time.time()) + 3600}
    refused = _refusal(server, jwt.encode(claims, server.secret, algorithm="HS256"))
    assert refused.status == 403


def test_the_subprotocol_offer_is_answered_with_the_marker_never_the_token(server: RunningServer) -> None:
    async def handshake() -> str | None:
        async with connect(server.ws_url, subprotocols=["mozaiks.jwt", server.token]) as ws:  # type: ignore[list-item]
            await ws.send('{"type":"ping","msg_id":"p-1"}')
            reply = await asyncio.wait_for(ws.recv(), 10)
            assert '"pong"' in str(reply)
            return ws.subprotocol

    assert asyncio.run(handshake()) == "mozaiks.jwt"


def test_the_query_string_token_works_too(server: RunningServer) -> None:
    async def handshake() -> str | None:
        async with connect(f"{server.ws_url}?token={server.token}") as ws:
            await ws.send('{"type":"ping","msg_id":"p-2"}')
            return str(await asyncio.wait_for(ws.recv(), 10))

    assert '"pong"' in asyncio.run(handshake())


def test_another_tenant_cannot_resume_or_write_to_a_session(server: RunningServer) -> None:
    intruder_token = mint_token(server.secret, app_id="other-app", user_id="developer")

    async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        owner = SessionClient(ClientOptions(url=server.ws_url, token=server.token))
        await owner.connect()
        session_id = await owner.start("CustomerSupport")
        while owner.log.last_seq < 2:  # run_started, input_request
            await owner.next()

        intruder = SessionClient(ClientOptions(url=server.ws_url, token=intruder_token))
        await intruder.connect()
        await intruder.resume(session_id, 0)
        resume_error = await intruder.next(timeout=15)
        msg_id = await intruder.say("let me in")
        say_error = await intruder.wait_reply(msg_id, timeout=15)
        await intruder.close()
        await owner.close()
        return [resume_error, say_error], intruder.log.events

    replies, intruder_events = asyncio.run(scenario())
    assert intruder_events == []
    for reply in replies:
        assert reply["type"] == "error"
        assert reply["code"] == "session_not_found"

"""Delivery guarantees on a real ``mozaiks serve`` subprocess, as an outside client sees them over the socket:
the idempotency contract (items 1-3 of the issue), input while a run is going (4), a first step that fails
(12 and 14) and a call to a tool that does not exist (13). Crashes of the server itself are in
test_local_crash.py; shutdown and slow sessions in test_local_shutdown.py and test_local_concurrency.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server import RunningServer, server_process

from runtime_core.local.client import ClientOptions, SessionClient

TEST_WORKFLOWS = Path(__file__).parent / "workflows"
FIRST = "Hi, where is my order A100?"
SECOND = "Thanks. I'd like to talk to a human about a refund."


@pytest.fixture(scope="module")
def test_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_process(tmp_path_factory.mktemp("serve-delivery"), workflows=TEST_WORKFLOWS) as started:
        yield started.server


def client_for(server: RunningServer) -> SessionClient:
    return SessionClient(ClientOptions(url=server.ws_url, token=server.token))


async def reply(client: SessionClient, frame: dict[str, Any]) -> dict[str, Any]:
    await client.send(frame)
    return await client.wait_reply(str(frame["msg_id"]))


async def until(client: SessionClient, kind: str, timeout: float = 30) -> dict[str, Any]:
    """Session events until one of type ``kind`` (returned); control replies are skipped."""
    while True:
        message = await client.next(timeout)
        if "seq" in message and message["type"] == kind:
            return message


def say(session_id: str, msg_id: str, text: str) -> dict[str, Any]:
    return {"type": "user_message", "session_id": session_id, "msg_id": msg_id, "text": text}


def test_msg_ids_are_per_session_and_resent_frames_are_duplicates_whatever_the_state(
    server: RunningServer,
) -> None:
    async def scenario() -> None:
        client = client_for(server)
        await client.connect()
        sessions = []
        for chat in ("chat-a", "chat-b"):
            ack = await reply(
                client, {"type": "start", "workflow": "CustomerSupport", "msg_id": chat, "message": FIRST}
            )
            sessions.append(ack["session_id"])
        for session_id in sessions:
            client.session_id = session_id
            # The same per-chat numbering in both sessions: two new inputs (item 1).
            ack = await reply(client, say(session_id, "m-0001", SECOND))
            assert ack["type"] == "ack" and ack["duplicate"] is False, ack
        # The same start msg_id for another workflow is a reuse, refused (item 1).
        refused = await reply(client, {"type": "start", "workflow": "TripPlanner", "msg_id": "chat-a"})
        assert refused["code"] == "msg_id_reused", refused
        # Resent later, whatever the session did since: a duplicate with the original outcome (item 2).
        await asyncio.sleep(3)
        again = await reply(
            client, {"type": "start", "workflow": "CustomerSupport", "msg_id": "chat-a", "message": FIRST}
        )
        assert (again["duplicate"], again["session_id"]) == (True, sessions[0])
        again = await reply(client, say(sessions[0], "m-0001", SECOND))
        assert again["type"] == "ack" and again["duplicate"] is True, again
        reused = await reply(client, say(sessions[0], "m-0001", "something else"))
        assert reused["code"] == "msg_id_reused"
        await client.close()

    asyncio.run(scenario())


def test_a_refused_answer_leaves_its_msg_id_for_the_corrected_message(server: RunningServer) -> None:
    async def scenario() -> None:
        client = client_for(server)
        await client.connect()
        session_id = await client.start("CustomerSupport", FIRST)
        request = (await until(client, "input_request"))["request"]
        assert request["kind"] == "user_turn"
        wrong = await reply(
            client,
            {
                "type": "answer",
                "session_id": session_id,
                "msg_id": "m-2",
                "request_id": request["request_id"],
                "text": SECOND,
            },
        )
        assert wrong["code"] == "message_expected", wrong
        ok = await reply(client, say(session_id, "m-2", SECOND))
        assert ok["type"] == "ack" and ok["duplicate"] is False, ok
        consumed = await until(client, "user_message")
        assert consumed["input_id"] == "m-2" and consumed["text"] == SECOND
        await client.close()

    asyncio.run(scenario())


def test_input_while_a_run_goes_is_refused_when_it_could_never_be_used(test_server: RunningServer) -> None:
    async def scenario() -> None:
        client = client_for(test_server)
        await client.connect()
        # SlowTool runs without user input once started; its second step sleeps 3 s: the run is going.
        session_id = await client.start("SlowTool")
        await until(client, "agent_message")
        refused = await reply(client, say(session_id, "m-2", "Make it shorter"))
        assert refused["code"] == "input_not_accepted", refused
        completed = await until(client, "run_completed")
        assert completed["status"] == "completed"
        events = client.log.events
        assert not [e for e in events if e["type"] == "user_message" and e["input_id"] == "m-2"]
        await client.close()

    asyncio.run(scenario())


def test_a_failing_first_step_starts_with_run_started_and_a_repeated_failure_is_not_stored(
    test_server: RunningServer,
) -> None:
    async def scenario() -> None:
        client = client_for(test_server)
        await client.connect()
        session_id = await client.start("NoReply", "hello")
        error = await until(client, "error")
        assert error["code"] == "script_exhausted" and error["recoverable"] is True
        events = client.log.events
        assert events[0]["type"] == "run_started" and events[0]["seq"] == 1  # item 12
        last = client.log.last_seq
        # Every resume retries once; failing the same way, nothing more is stored (item 14).
        for _ in range(3):
            await client.send({"type": "resume", "session_id": session_id, "after_seq": last})
            notice = None
            while notice is None:
                message = await client.next(30)
                if message.get("type") == "error" and message.get("code") == "step_failed_again":
                    notice = message
            assert "seq" not in notice
        assert client.log.last_seq == last
        await client.close()

    asyncio.run(scenario())


def test_a_call_to_a_tool_that_does_not_exist_is_reported(test_server: RunningServer) -> None:
    async def scenario() -> None:
        client = client_for(test_server)
        await client.connect()
        await client.start("UnknownTool")
        await until(client, "run_completed")
        events = client.log.events
        kinds = [e["type"] for e in events]
        call = next(e for e in events if e["type"] == "tool_call")
        result = next(e for e in events if e["type"] == "tool_result")
        error = next(e for e in events if e["type"] == "error")
        assert call["call"]["name"] == "lookup_weather"
        assert result["tool_call_id"] == call["call"]["id"] and result["is_error"] is True  # item 13
        assert error["code"] == "tool_error" and "lookup_weather" in error["message"]
        assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("error")
        await client.close()

    asyncio.run(scenario())

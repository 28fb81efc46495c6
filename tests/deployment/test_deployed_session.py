"""The deployed shape, end to end: the `sam build` artifacts run as Lambda runs them, one fresh process per
invocation, against moto's AWS (in its own process) and an embedded MongoDB, with the environment
template.yaml gives each function. A whole TripPlanner session goes through all five functions:

$connect with a token -> start -> the worker drains the queue message by message -> the UI tool's date picker
is answered -> the connection drops (API Gateway answers 410) -> a new connection resumes -> the run completes
-> $disconnect -> the HTTP API serves the history. The events the client got equal the local server's for the
same conversation, and every invocation read only variables the template sets (or that have a documented
default), made only AWS calls its policy allows, and loaded nothing from outside its artifact.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.deployment.deployed_stack import (
    Connection,
    Stack,
    connection_id,
    env_problems,
    iam_problems,
    normalized,
)

WORKFLOW = "TripPlanner"
FIRST = "I'd like a long weekend in Lisbon."
DATES = {"start": "2026-06-05", "end": "2026-06-08"}


def seq_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if isinstance(m.get("seq"), int)]


def replies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if "seq" not in m]


def local_server_events(work: Path) -> list[dict[str, Any]]:
    """The same conversation (same frames, same msg_ids) through `mozaiks serve`."""
    from runtime_core.local.client import ClientOptions, SessionClient
    from tests.local.local_server import running_server

    async def converse(url: str, token: str) -> list[dict[str, Any]]:
        client = SessionClient(ClientOptions(url=url, token=token))
        await client.connect()
        await client.send({"type": "start", "workflow": WORKFLOW, "msg_id": "m-start", "message": FIRST})
        ack = await client.wait_reply("m-start")
        client.session_id = str(ack["session_id"])
        while True:
            message = await client.next(60)
            if message.get("type") == "input_request" and "seq" in message:
                await client.answer(message["request"]["request_id"], DATES, msg_id="m-dates")
            if message.get("type") == "run_completed":
                break
        await client.close()
        return list(client.log.events)

    # A private loop: asyncio.run would leave the thread without an event loop, and Mangum (the HTTP API tests
    # that may run next in this process) asks for the current one.
    loop = asyncio.new_event_loop()
    try:
        with running_server(work) as server:
            return loop.run_until_complete(converse(server.ws_url, server.token))
    finally:
        loop.close()


def test_a_whole_session_through_the_built_functions(stack: Stack, mongo_uri: str, tmp_path: Path) -> None:
    started = time.perf_counter()
    token = stack.token()
    first = Connection(stack, connection_id(), token)
    assert first.connect()["statusCode"] == 200

    first.send({"type": "start", "workflow": WORKFLOW, "msg_id": "m-start", "message": FIRST})
    (ack,) = replies(first.received())
    assert ack["type"] == "ack" and ack["duplicate"] is False, ack
    session_id = ack["session_id"]

    assert stack.drain() >= 1
    seen = seq_events(first.received())
    request = seen[-1]
    assert request["type"] == "input_request" and request["request"]["kind"] == "ui_tool", request

    first.send(
        {
            "type": "answer",
            "session_id": session_id,
            "msg_id": "m-dates",
            "request_id": request["request"]["request_id"],
            "data": DATES,
        }
    )
    assert [r["type"] for r in replies(first.received())] == ["ack"]

    # The client's network drops: API Gateway now answers 410 for this connection. The next step's posts
    # find it gone, and the worker forgets the connection record.
    stack.aws.gone(first.connection_id)
    assert stack.drain(stop_after=1) == 1
    from pymongo import MongoClient

    db = MongoClient(mongo_uri)[stack.parameters["MongoDbName"]]
    assert db["connections"].count_documents({"_id": first.connection_id}) == 0

    second = Connection(stack, connection_id(), token)
    assert second.connect()["statusCode"] == 200
    second.send({"type": "resume", "session_id": session_id, "after_seq": seen[-1]["seq"]})
    stack.drain()
    later = second.received()
    assert replies(later)[0]["type"] == "ack"
    events = seen + seq_events(later)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run_completed" and events[-1]["status"] == "completed", events[-1]
    second.disconnect()
    assert db["connections"].count_documents({"_id": second.connection_id}) == 0

    # The HTTP API serves the same events and the transcript to the session's owner.
    response = stack.invoke(
        "functions/http_api.handler", stack.http_event(f"/sessions/{session_id}/events", "after=0", token)
    ).ok()
    assert response["statusCode"] == 200, response
    stored = json.loads(response["body"])["events"]
    assert normalized(stored) == normalized(events)
    response = stack.invoke(
        "functions/http_api.handler", stack.http_event(f"/sessions/{session_id}/messages", "", token)
    ).ok()
    transcript = json.loads(response["body"])["messages"]
    assert {"Planner", "Booker"} <= {m["speaker"] for m in transcript}
    assert "[trip booked]" in transcript[-1]["content"]
    # The scheduled sweeper finds nothing to re-arm: the session completed and left no outbox.
    swept = stack.invoke("functions/sweeper.handler", {}).ok()
    assert swept["failed"] == 0 and swept["queued"] == 0 and swept["outboxes"] == 0, swept
    elapsed = time.perf_counter() - started

    # What the client saw is what the local server sends for the same conversation.
    assert normalized(events) == normalized(local_server_events(tmp_path))

    # Every invocation: only variables the template sets (or documented defaults), only allowed AWS calls,
    # nothing loaded from outside the artifact, and no error logged.
    problems: list[str] = []
    for invocation in stack.invocations:
        problems += env_problems(invocation, stack.template_env(invocation.function_id))
        problems += iam_problems(invocation, stack.resolver)
        problems += [f"{invocation.function_id} loaded {m}" for m in invocation.outside_modules]
        if '"level":"ERROR"' in invocation.output:
            problems.append(f"{invocation.function_id} logged an error:\n{invocation.output[-2000:]}")
    assert problems == []
    functions = {i.function_id for i in stack.invocations}
    assert functions == {
        "ConnectFunction",
        "DefaultFunction",
        "DisconnectFunction",
        "WorkerFunction",
        "HttpApiFunction",
        "SweeperFunction",
    }
    cold = {f: max(i.seconds for i in stack.invocations if i.function_id == f) for f in sorted(functions)}
    print(f"\n{len(stack.invocations)} cold invocations in {elapsed:.1f} s; slowest per function: {cold}")

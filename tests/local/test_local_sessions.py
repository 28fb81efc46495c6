"""End to end over a real socket: every example workflow runs to completion on the scripted model through
``mozaiks serve``, losing its connection on the way, and no event is lost or delivered twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from local_server import WORKFLOWS, RunningServer

from runtime_core.llm.script import load_script
from runtime_core.local.client import ClientOptions, SessionClient

WORKFLOW_NAMES = sorted(p.parent.name for p in WORKFLOWS.glob("*/script.yaml"))


def scripted_inputs(workflow: str) -> list[str | dict[str, Any]]:
    script = load_script(WORKFLOWS / workflow / "script.yaml")
    return [u.answer if u.answer is not None else u.text for u in script.user_inputs]


def agents_of(workflow: str) -> set[str]:
    import yaml

    data = yaml.safe_load(Path(WORKFLOWS / workflow / "agents.yaml").read_text())
    return {a["name"] for a in data["agents"]}


def client_for(server: RunningServer, token: str | None = None) -> SessionClient:
    return SessionClient(ClientOptions(url=server.ws_url, token=token or server.token))


async def replay_all(server: RunningServer, session_id: str, after_seq: int, until_seq: int) -> SessionClient:
    """A fresh connection that resumes the session and collects events up to ``until_seq``."""
    replay = client_for(server)
    await replay.connect()
    await replay.resume(session_id, after_seq)
    while replay.log.last_seq < until_seq:
        await replay.next(timeout=30)
    await replay.close()
    return replay


def assert_contiguous(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


def test_the_example_workflows_are_found() -> None:
    assert {"CustomerSupport", "ContentReview", "TripPlanner"} <= set(WORKFLOW_NAMES)


@pytest.mark.parametrize("workflow", WORKFLOW_NAMES)
def test_workflow_completes_across_dropped_connections_with_every_event_once(
    server: RunningServer, workflow: str
) -> None:
    inputs = scripted_inputs(workflow)

    async def scenario() -> tuple[SessionClient, dict[str, Any], SessionClient]:
        client = client_for(server)
        await client.connect()
        session_id = await client.start(workflow)
        # Drop twice: right after the second event, and right after the first input is sent (before the
        # step it triggers has posted anything), so events are posted to a dead connection.
        end = await client.play(inputs, drop_after_seq={2}, drop_after_input={1})
        await client.close()
        replay = await replay_all(server, session_id, 0, client.log.last_seq)
        return client, end, replay

    client, end, replay = asyncio.run(scenario())

    assert end["type"] == "run_completed" and end["status"] == "completed", end
    assert client.connections >= 2
    events = client.log.events
    assert_contiguous(events)
    assert events[-1] == end
    # What the interrupted client ended up with is exactly what the server stored.
    assert [json.dumps(e, sort_keys=True) for e in replay.log.events] == [
        json.dumps(e, sort_keys=True) for e in events
    ]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and "usage" in kinds
    speakers = {e["agent"] for e in events if e["type"] == "agent_message"}
    assert speakers and speakers <= agents_of(workflow)
    answered = [e for e in events if e["type"] == "user_message"]
    assert len(answered) >= len(inputs)


def test_events_posted_while_away_are_replayed_on_resume(server: RunningServer) -> None:
    """ContentReview runs without user input: the client leaves after the first event and only comes back
    once an observer has seen the run finish, so everything after seq 1 reaches it by replay alone."""

    async def scenario() -> tuple[SessionClient, SessionClient, int]:
        client = client_for(server)
        await client.connect()
        session_id = await client.start("ContentReview")
        while client.log.last_seq < 1:
            await client.next()
        await client.drop()

        observer = client_for(server)
        await observer.connect()
        await observer.resume(session_id, 0)
        end = await observer.play([], timeout=60)
        assert end["type"] == "run_completed"
        await observer.close()

        left_at = client.log.last_seq
        await client.reconnect()
        while client.log.last_seq < observer.log.last_seq:
            await client.next()
        await client.close()
        return client, observer, left_at

    client, observer, left_at = asyncio.run(scenario())
    assert left_at >= 1
    assert_contiguous(client.log.events)
    assert client.log.events == observer.log.events
    assert client.log.events[-1]["type"] == "run_completed"
    assert {"Writer", "Critic", "Editor"} <= {e.get("agent") for e in client.log.events}
    assert any(e["type"] == "structured_output" for e in client.log.events)


def test_resume_replays_exactly_the_events_after_the_given_seq(server: RunningServer) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], SessionClient]:
        client = client_for(server)
        await client.connect()
        session_id = await client.start("ContentReview")
        await client.play([])
        await client.close()
        total = client.log.last_seq
        replay = await replay_all(server, session_id, total - 3, total)
        return client.log.events, replay

    events, replay = asyncio.run(scenario())
    assert replay.log.events == events[-3:]
    # Nothing at or before after_seq came back.
    assert replay.log.duplicates == 0


def test_a_client_drops_events_it_already_has(server: RunningServer) -> None:
    async def scenario() -> SessionClient:
        client = client_for(server)
        await client.connect()
        session_id = await client.start("ContentReview")
        await client.play([])
        # Ask again from an earlier seq, as a client that lost track would: the overlap is dropped.
        await client.resume(session_id, 2)
        while client.log.duplicates < client.log.last_seq - 2:
            await client.receive_post(timeout=30)
        await client.close()
        return client

    client = asyncio.run(scenario())
    assert_contiguous(client.log.events)
    assert client.log.duplicates == client.log.last_seq - 2


def test_http_api_and_chat_page_share_the_port(server: RunningServer) -> None:
    import httpx

    page = httpx.get(f"{server.http_url}/", timeout=10)
    assert page.status_code == 200 and "chat.js" in page.text
    script = httpx.get(f"{server.http_url}/chat.js", timeout=10)
    assert script.status_code == 200 and "./client/mozaiks-client.js" in script.text
    client = httpx.get(f"{server.http_url}/client/mozaiks-client.js", timeout=10)
    assert client.status_code == 200 and '"resume"' in client.text
    health = httpx.get(f"{server.http_url}/api/health", timeout=10)
    assert health.status_code == 200


def test_banner_names_each_default_and_the_ready_urls(server: RunningServer) -> None:
    banner = server.banner
    assert "store      embedded MongoDB (mongoeco) on " in banner and "store.sqlite3" in banner
    assert "model      scripted" in banner
    assert "auth       development HS256 secret" in banner and "local use only" in banner
    assert f"ws://localhost:{server.port}/ws?token={server.token}" in banner
    assert f"http://localhost:{server.port}/?token={server.token}" in banner
    assert (server.data_dir / "dev-token").read_text().strip() == server.token

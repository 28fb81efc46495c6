"""Stopping ``mozaiks serve`` while a step runs: the step finishes and is committed before the store
closes, a step longer than the grace period is abandoned without touching the store, and a second signal
exits at once.

Each test runs its own server on the ``SlowTool`` test workflow (its second step runs a tool that sleeps
``SLOW_TOOL_SECONDS``), so the signal arrives while a step is known to be running.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_server import RunningServer, ServerProcess, server_process
from websockets.exceptions import ConnectionClosed

from runtime_core.local.client import ClientOptions, SessionClient

TEST_WORKFLOWS = Path(__file__).parent / "workflows"
# A traceback, pymongo's complaint about a closed client, a failed step, an error logged by the handlers
# (Powertools JSON) or by uvicorn.
STORE_ERRORS = ("Traceback", "Cannot use MongoClient", "step failed", '"level":"ERROR"', "ERROR:")


def _client(server: RunningServer) -> SessionClient:
    return SessionClient(ClientOptions(url=server.ws_url, token=server.token))


def _start_slow_session(started: ServerProcess) -> str:
    """A session in its slow step (the nap tool has said it is sleeping). Its client's socket stays open
    (nobody reads it any more): the server has a connection to close when it stops."""

    async def start() -> str:
        client = _client(started.server)
        await client.connect()
        return await client.start("SlowTool")

    session_id = asyncio.run(start())
    started.wait_for_line("nap: sleeping", timeout=60)
    return session_id


def _events(server: RunningServer, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.http_url}/api/sessions/{session_id}/events",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _stop(started: ServerProcess, signum: int, timeout: float) -> tuple[int, float]:
    """Signal the server and wait for it to exit; its exit code and how long it took."""
    began = time.monotonic()
    started.process.send_signal(signum)
    code = started.process.wait(timeout=timeout)
    started.output.done.wait(5)
    return code, time.monotonic() - began


def _assert_no_store_errors(log: str) -> None:
    for marker in STORE_ERRORS:
        assert marker not in log, f"{marker!r} in the server log:\n{log}"


def test_sigterm_lets_the_running_step_finish_and_commit_before_the_store_closes(tmp_path: Path) -> None:
    env = {"SLOW_TOOL_SECONDS": "4"}
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env=env) as started:

        async def scenario() -> tuple[str, int | None, float]:
            loop = asyncio.get_running_loop()
            client = _client(started.server)
            await client.connect()
            session_id = await client.start("SlowTool")
            await loop.run_in_executor(None, started.wait_for_line, "nap: sleeping", 60)
            started.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await loop.run_in_executor(None, started.wait_for_line, "stopping (SIGTERM)", 10)
            # Stopping takes no frame and no connection any more: the open socket is closed by the server...
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await client.next(timeout=10)
            # ... and a new one is not accepted, while the step still runs.
            with pytest.raises(OSError):
                await _client(started.server).connect()
            assert started.process.poll() is None and "nap: woke" not in started.log()
            return session_id, closed.value.rcvd.code if closed.value.rcvd else None, signalled

        session_id, close_code, signalled = asyncio.run(scenario())
        code = started.process.wait(timeout=30)
        took = time.monotonic() - signalled
        started.output.done.wait(5)
        log = started.log()
    print(f"\nSIGTERM during a 4 s step: the server exited {took:.1f} s after the signal (code {code})")

    assert close_code == 1012  # "service restart": the client should reconnect later
    assert code == 0, log
    assert "stopping (SIGTERM): no new connections or frames; waiting up to" in log
    assert f"for 1 step running (session {session_id})" in log
    assert "queued steps dropped, not started: 0 (the next start re-arms their sessions)" in log
    # The nap woke, its step was committed, and only then did the store close.
    woke = log.index("nap: woke after 4 s")
    stopped = log.index("stopped after")
    assert woke < stopped
    assert "every running step finished" in log[stopped:] and "store closed" in log[stopped:]
    _assert_no_store_errors(log)

    # After a restart the store has the step that ran during the stop (its tool result), and nothing of the
    # step it chained (dropped with the queue: recovery re-arms the session, see the sweeper).
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env={"SLOW_TOOL_SECONDS": "0"}) as again:
        events = _events(again.server, session_id)
        _assert_no_store_errors(again.log())
    kinds = [e["type"] for e in events]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "tool_call" in kinds and "run_completed" not in kinds, kinds
    assert any(e["type"] == "tool_result" and "slept 4 s" in str(e) for e in events), events


def test_a_step_longer_than_the_grace_period_is_abandoned_without_touching_the_store(tmp_path: Path) -> None:
    grace = 2.0
    env = {"SLOW_TOOL_SECONDS": "60"}
    args = ("--shutdown-grace", str(grace))
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env=env, args=args) as started:
        session_id = _start_slow_session(started)
        code, took = _stop(started, signal.SIGTERM, timeout=grace + 20)
        log = started.log()
    print(f"\nSIGTERM with a 60 s step running, grace {grace:g} s: exited after {took:.1f} s (code {code})")

    assert code == 0, log
    assert took < grace + 8, log
    assert f"1 step still running abandoned (session {session_id})" in log
    assert "the lease expires and the next start recovers the session" in log
    assert "nap: woke" not in log and "store closed" not in log
    _assert_no_store_errors(log)

    # What was committed before the signal is intact: the first step's events, nothing of the abandoned one.
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env={"SLOW_TOOL_SECONDS": "0"}) as again:
        kinds = [e["type"] for e in _events(again.server, session_id)]
    assert kinds[0] == "run_started" and "agent_message" in kinds and "tool_result" not in kinds, kinds


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    env = {"SLOW_TOOL_SECONDS": "60"}
    args = ("--shutdown-grace", "60")
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env=env, args=args) as started:
        session_id = _start_slow_session(started)
        started.process.send_signal(signal.SIGINT)
        started.wait_for_line("stopping (SIGINT)", timeout=10)
        code, took = _stop(started, signal.SIGINT, timeout=15)
        log = started.log()
    print(f"\nsecond SIGINT: exited after {took:.1f} s (code {code})")

    assert code == 128 + signal.SIGINT, log
    assert took < 5, log
    assert f"second SIGINT: exiting at once; 1 step still running abandoned (session {session_id})" in log
    _assert_no_store_errors(log)

"""One slow session never delays another: on ``mozaiks serve``, eight sessions stuck in a slow step do not
keep a ninth session, of another tenant, from getting its first event at once (in AWS each session's steps
get a Lambda invocation of their own; locally each session gets a thread)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from local_server import ServerProcess, server_process

from runtime_core.local.client import ClientOptions, SessionClient
from runtime_core.local.credentials import mint_token

TEST_WORKFLOWS = Path(__file__).parent / "workflows"
SLOW_SESSIONS = 8
# Long enough that none of the slow steps can end before the ninth session's first step on a loaded machine.
SLOW_SECONDS = 20


def _naps(started: ServerProcess, what: str) -> int:
    return sum(1 for line in list(started.output.lines) if line.startswith(f"nap: {what}"))


def _wait_for_naps(started: ServerProcess, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _naps(started, "sleeping") < count:
        assert time.monotonic() < deadline, f"{count} slow steps did not start:\n{started.log()}"
        time.sleep(0.1)


def test_eight_stuck_sessions_do_not_delay_another_tenants_first_event(tmp_path: Path) -> None:
    env = {"SLOW_TOOL_SECONDS": str(SLOW_SECONDS)}
    # A short grace period: the slow steps are still running when the test stops the server.
    args = ("--shutdown-grace", "1")
    with server_process(tmp_path, workflows=TEST_WORKFLOWS, env=env, args=args) as started:
        server = started.server

        async def scenario() -> tuple[float, int, dict[str, object]]:
            loop = asyncio.get_running_loop()
            options = ClientOptions(url=server.ws_url, token=server.token)
            slow = [SessionClient(options) for _ in range(SLOW_SESSIONS)]
            for client in slow:
                await client.connect()
                await client.start("SlowTool")
            # Every one of the eight is now inside its slow step (and holds its session's lease).
            await loop.run_in_executor(None, _wait_for_naps, started, SLOW_SESSIONS, 90)
            assert _naps(started, "woke") == 0

            other = SessionClient(
                ClientOptions(url=server.ws_url, token=mint_token(server.secret, "other-app", "other-user"))
            )
            await other.connect()
            began = time.monotonic()
            await other.start("SlowTool")
            first = await other.next(timeout=SLOW_SECONDS + 30)
            waited = time.monotonic() - began
            # Read at once: how many of the slow steps had finished when the first event arrived.
            woke = _naps(started, "woke")
            for client in [*slow, other]:
                await client.close()
            return waited, woke, first

        waited, woke, first = asyncio.run(scenario())
    print(
        f"\n9th session (another tenant), {SLOW_SESSIONS} sessions stuck in a {SLOW_SECONDS} s step: "
        f"first event after {waited:.2f} s"
    )
    # The first thing it sees is its run_started, or a live text_delta of its first reply (deltas are posted
    # while the model streams, before the step commits its stored events).
    if first.get("type") == "text_delta":
        assert "seq" not in first and first.get("agent") == "Greeter", first
    else:
        assert first.get("seq") == 1 and first.get("type") == "run_started", first
    # Its step did not wait for a slow one to end (it would, were the step threads all held by them).
    assert woke == 0, f"{woke} slow steps had finished before the ninth session's first event"

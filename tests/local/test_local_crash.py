"""Crash injection on a real ``mozaiks serve``: the process dies (``os._exit``, as ``kill -9`` would leave it)
at each fault point of a step, is started again on the same data dir, and every session still ends exactly
as an uninterrupted run does.

For each point in ``runtime_core.faults.POINTS`` one server (``serve_with_faults.py``, the real server with a
faults hook) runs the three example workflows at once, each followed by a ``CrashTolerantSession`` that
answers input requests from the workflow's ``script.yaml``. The kill is armed at the middle hit of the point
(counted in an uninterrupted run first). The clients reconnect, ``resume`` and send unacknowledged frames
again, as a real client does. Then, per session: it completed; its stored events equal the uninterrupted
run's (``ts`` and ``session_id`` aside) and what the client received; seqs are contiguous; every acknowledged
msg_id was consumed exactly once; the usage ledger has one row per model call the provider served.

Two more tests kill a server (SIGKILL) while steps are stuck mid-step and time the recovery: a client that
only reconnects and resumes sees its session move again within ``RECOVERY_BOUND_SECONDS`` of the restart, and
a session nobody is connected to completes on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from crash_session import CrashTolerantSession, scripted_inputs
from local_server import (
    WORKFLOWS,
    LedgerRows,
    RunningServer,
    ServerProcess,
    server_process,
    stored_events,
    usage_rows,
)
from serve_with_faults import CALLS_VARIABLE, FAULTS_VARIABLE, HANG_VARIABLE, KILL_VARIABLE, KILLED_EXIT_CODE

from runtime_core import faults

EXAMPLES = ("CustomerSupport", "ContentReview", "TripPlanner")
WRAPPER = (sys.executable, str(Path(__file__).with_name("serve_with_faults.py")))
SESSION_TIMEOUT = 120.0
# The bound on a dead step's session moving again (local lease 10 s, a sweep every 2 s).
RECOVERY_BOUND_SECONDS = 30.0

Event = dict[str, Any]


def normalized(events: list[Event]) -> list[Event]:
    """What must be the same in any two runs of a session: all but the timestamps and the session id."""
    return [{k: v for k, v in e.items() if k not in ("ts", "session_id")} for e in events]


def calls_per_session(path: Path) -> Counter[str]:
    """Provider calls the wrapper's scripted model served, per session (the lines of CALLS_VARIABLE)."""
    if not path.is_file():
        return Counter()
    return Counter(json.loads(line)["session_id"] for line in path.read_text().splitlines() if line)


def serve(work: Path, env: dict[str, str], port: int = 0) -> AbstractContextManager[ServerProcess]:
    """The wrapper on ``work``'s data dir: the example workflows, the scripted model, ``env``'s hooks."""
    return server_process(work, port, workflows=WORKFLOWS, env=env, command=WRAPPER)


def sessions_for(server: RunningServer) -> dict[str, CrashTolerantSession]:
    # key=workflow: the same msg_ids in every run, so the stored user_message events compare equal.
    return {
        wf: CrashTolerantSession(server.ws_url, server.token, wf, scripted_inputs(WORKFLOWS, wf), key=wf)
        for wf in EXAMPLES
    }


def assert_consumed_once(session: CrashTolerantSession, events: list[Event]) -> None:
    """Every acknowledged input is in the transcript exactly once; every input sent was acknowledged."""
    consumed = Counter(e["input_id"] for e in events if e["type"] == "user_message")
    assert sorted(session.acked) == sorted(session.sent), (session.acked, session.sent)
    for msg_id in session.acked:
        assert consumed[msg_id] == 1, f"{session.workflow}: input {msg_id} consumed {consumed[msg_id]} times"


# ---- the uninterrupted run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    events: dict[str, list[Event]]
    # Hits of each fault point over the three sessions: where a kill in the middle of a run goes.
    hits: Counter[str]
    calls: dict[str, int]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    work = tmp_path_factory.mktemp("uninterrupted")
    env = {CALLS_VARIABLE: str(work / "calls.jsonl"), FAULTS_VARIABLE: str(work / "faults.jsonl")}
    with serve(work, env) as started:
        sessions = sessions_for(started.server)

        async def play() -> list[Event]:
            return await asyncio.wait_for(
                asyncio.gather(*(s.run() for s in sessions.values())), SESSION_TIMEOUT
            )

        ends = asyncio.run(play())
        stored = {wf: stored_events(started.server, s.session_id or "") for wf, s in sessions.items()}
    assert all(end["type"] == "run_completed" and end["status"] == "completed" for end in ends), ends
    calls = calls_per_session(work / "calls.jsonl")
    ledger = usage_rows(work / ".mozaiks")
    for wf, session in sessions.items():
        assert session.reconnects == 0 and normalized(stored[wf]) == normalized(session.events)
        rows = ledger[session.session_id or ""]
        assert rows.started == 0 and rows.done == calls[session.session_id or ""] > 0
    lines = (work / "faults.jsonl").read_text().splitlines()
    return Baseline(
        events={wf: normalized(events) for wf, events in stored.items()},
        hits=Counter(json.loads(line)["point"] for line in lines),
        calls={wf: calls[s.session_id or ""] for wf, s in sessions.items()},
    )


def test_an_uninterrupted_run_reaches_every_fault_point(baseline: Baseline) -> None:
    # Otherwise a kill armed at that point would never fire and its test would prove nothing.
    assert set(baseline.hits) == set(faults.POINTS), baseline.hits


# ---- a kill at each fault point ----------------------------------------------------------------------------
@dataclass
class CrashRun:
    sessions: dict[str, CrashTolerantSession]
    exit_code: int | None
    killed_line: str
    stored: dict[str, list[Event]]
    calls: Counter[str]
    ledger: dict[str, LedgerRows]


def crash_run(work: Path, point: str, hit: int) -> CrashRun:
    """The three sessions on a server killed at the ``hit``-th hit of ``point``, restarted on the same data
    dir and port (the clients reconnect to the URL they know)."""
    calls_file = work / "calls.jsonl"
    env = {CALLS_VARIABLE: str(calls_file)}
    with ExitStack() as stack:
        first: ServerProcess = stack.enter_context(serve(work, {**env, KILL_VARIABLE: f"{point}:{hit}"}))
        sessions = sessions_for(first.server)

        async def scenario() -> ServerProcess:
            loop = asyncio.get_running_loop()
            played = asyncio.gather(*(s.run() for s in sessions.values()))
            # Polled, not process.wait() in an executor: asyncio.run would wait for that thread at its end.
            while first.process.poll() is None and not played.done():
                await asyncio.sleep(0.05)
            if first.process.poll() is None:
                played.result()  # a client that failed before the kill raises its own error here
                pytest.fail(f"the kill at {point} hit {hit} never fired: the sessions ended first")
            again = await loop.run_in_executor(
                None, stack.enter_context, serve(work, env, port=first.server.port)
            )
            await asyncio.wait_for(played, SESSION_TIMEOUT)
            return again

        again = asyncio.run(scenario())
        exit_code = first.process.wait(timeout=5)
        killed_line = first.wait_for_line("fault: killed at", timeout=5)
        stored = {wf: stored_events(again.server, s.session_id or "") for wf, s in sessions.items()}
    return CrashRun(
        sessions=sessions,
        exit_code=exit_code,
        killed_line=killed_line,
        stored=stored,
        calls=calls_per_session(calls_file),
        ledger=usage_rows(work / ".mozaiks"),
    )


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_kill_at_each_fault_point_loses_nothing_and_changes_nothing(
    point: str, baseline: Baseline, tmp_path: Path
) -> None:
    hit = max(1, (baseline.hits[point] + 1) // 2)
    run = crash_run(tmp_path, point, hit)

    assert run.exit_code == KILLED_EXIT_CODE and f"killed at {point} hit {hit}" in run.killed_line
    repeated: dict[str, int] = {}
    for wf, session in run.sessions.items():
        sid = session.session_id or ""
        assert session.end is not None and session.end["type"] == "run_completed", (wf, session.end)
        assert session.end["status"] == "completed"
        events = run.stored[wf]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), wf
        assert normalized(events) == baseline.events[wf], f"{wf}: the transcript differs from the baseline"
        # What the client ended up with, across the crash, is what the store has.
        assert normalized(session.events) == normalized(events), wf
        assert_consumed_once(session, events)
        # Every call the provider served is billed once, the calls a crash made us repeat included; a call the
        # crash cut off is in the ledger as started (its answer unknown), never missing.
        assert run.ledger[sid].covers(run.calls[sid]), (wf, run.ledger[sid], run.calls[sid])
        repeated[wf] = run.calls[sid] - baseline.calls[wf]
        assert repeated[wf] >= 0
    assert any(s.reconnects for s in run.sessions.values())
    print(f"\n{point} hit {hit}: {run.killed_line}; model calls repeated after the restart: {repeated}")


# ---- recovery time -----------------------------------------------------------------------------------------
def _wait_for_hangs(started: ServerProcess, session_ids: set[str], timeout: float) -> None:
    """Until each session has a step stuck at a fault point (the wrapper says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hung = set(re.findall(r"^fault: hanging at \S+ hit \d+ \(session (\S+)\)$", started.log(), re.M))
        if session_ids <= hung:
            return
        time.sleep(0.05)
    raise TimeoutError(f"steps of {session_ids} not stuck within {timeout:g} s:\n{started.log()}")


def _view(server: RunningServer, session_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.http_url}/api/sessions/{session_id}",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    response.raise_for_status()
    view: dict[str, Any] = response.json()
    return view


def _seconds_since(wall: float, event: Event) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp() - wall


def test_sessions_killed_mid_step_move_again_soon_after_a_restart_with_or_without_a_client(
    baseline: Baseline, tmp_path: Path
) -> None:
    """Two sessions each stuck mid-step (the lease held, heartbeats going) when the server gets a SIGKILL:
    CustomerSupport's client only reconnects and resumes once; ContentReview has nobody connected at all."""
    with ExitStack() as stack:
        # From the 3rd model step on, every step hangs before its model call: both sessions get there
        # (ContentReview alone runs four steps without input).
        first: ServerProcess = stack.enter_context(serve(tmp_path, {HANG_VARIABLE: "before_model:3"}))
        server = first.server
        followed = CrashTolerantSession(
            server.ws_url,
            server.token,
            "CustomerSupport",
            scripted_inputs(WORKFLOWS, "CustomerSupport"),
            key="CustomerSupport",
        )
        alone = CrashTolerantSession(server.ws_url, server.token, "ContentReview", [], key="ContentReview")

        async def scenario() -> tuple[float, int, int]:
            loop = asyncio.get_running_loop()
            # The unattended session: started, then its client is gone for good.
            await alone.start_and_leave()
            played = asyncio.create_task(followed.run())
            while followed.session_id is None:
                await asyncio.sleep(0.05)
            ids = {alone.session_id, followed.session_id}
            await loop.run_in_executor(None, _wait_for_hangs, first, ids, 60.0)
            seen = followed.last_seq
            alone_seq = int(_view(server, alone.session_id)["last_event_seq"])
            first.process.kill()  # SIGKILL, from outside, with both steps mid-step
            await loop.run_in_executor(None, first.process.wait)
            restarted = time.time()
            await loop.run_in_executor(None, stack.enter_context, serve(tmp_path, {}, port=server.port))
            await asyncio.wait_for(played, SESSION_TIMEOUT)
            return restarted, seen, alone_seq

        restarted, seen, alone_seq = asyncio.run(scenario())
        # Nobody connects to the unattended session: only its state is polled over HTTP.
        deadline = time.monotonic() + SESSION_TIMEOUT
        while _view(server, alone.session_id or "")["status"] != "completed":
            assert time.monotonic() < deadline, "the unattended session did not complete"
            time.sleep(0.2)
        followed_events = stored_events(server, followed.session_id or "")
        alone_events = stored_events(server, alone.session_id or "")

    # The client reconnected once, resumed once, and its session moved again soon after the restart.
    assert followed.reconnects == 1 and followed.resumes == 1
    first_new = min(t for seq, t in followed.arrivals.items() if seq > seen) - restarted
    assert 0 < first_new <= RECOVERY_BOUND_SECONDS, first_new
    assert normalized(followed_events) == baseline.events["CustomerSupport"]
    assert_consumed_once(followed, followed_events)
    # The unattended one moved again (its next stored event) and completed, exactly as uninterrupted.
    alone_next = min(_seconds_since(restarted, e) for e in alone_events if e["seq"] > alone_seq)
    assert 0 < alone_next <= RECOVERY_BOUND_SECONDS, alone_next
    assert normalized(alone_events) == baseline.events["ContentReview"]
    print(
        f"\nafter a SIGKILL mid-step: first new event {first_new:.1f} s after the restart with one resume, "
        f"{alone_next:.1f} s with no client"
    )

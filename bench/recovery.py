"""Recovery from kill -9: a real SIGKILL of ``mozaiks serve`` at a random moment while sessions run, then a
restart on the same data dir, round after round.

Each round starts ``--sessions`` sessions of the example workflows (CustomerSupport, ContentReview,
TripPlanner in turn), each played by a client that answers input requests from the workflow's
``script.yaml`` (``tests/local/crash_session.py``: it reconnects, resumes and sends unacknowledged frames
again, as a real client does). At a random moment the server gets a SIGKILL; it is started again at once on
the same port. Half the sessions are followed by a client that reconnects and sends one ``resume`` as soon as
the server is back; the other half have nobody connected: their store is polled through the HTTP API until
the session's next event appears (or it is plainly waiting for its user), and only then does their client
come back to finish.

Per session it measures the time from the crash to the session's next new event (an event created after
the crash: its stored ``ts``, for the sessions nobody follows; its arrival at the client, for the resumed
ones), and at the end: sessions stuck (not completed ``--deadline`` s after the last restart), sessions that
ended in an error, acknowledged inputs never consumed (lost) or consumed twice, and model calls the provider
served against rows of the usage ledger.

The server is ``tests/local/serve_with_faults.py`` with no fault armed: ``mozaiks serve`` itself, plus a
line per model call served (to compare with the ledger): the first steps of each restart are exactly those of
``mozaiks serve``.

Run: ``python bench/recovery.py [--rounds 6] [--sessions 6] [--seed 1] [--quick]``. Prints a line per round
and the totals; no pass/fail on timings (exit 1 only if a session is stuck or an input is lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "local"))

from crash_session import CrashTolerantSession, scripted_inputs  # noqa: E402
from local_server import WORKFLOWS, ServerProcess, server_process, usage_rows  # noqa: E402
from serve_with_faults import CALLS_VARIABLE  # noqa: E402

EXAMPLES = ("CustomerSupport", "ContentReview", "TripPlanner")
SERVE = (sys.executable, str(REPO / "tests" / "local" / "serve_with_faults.py"))
# Events of an uninterrupted run of each workflow. The kill comes when the round's sessions have received a
# random share of their events (5-90 %): a random moment that is always while they run, however fast the
# machine (a warm server runs a round in about a second, a cold one in several).
EXPECTED_EVENTS = {"CustomerSupport": 26, "ContentReview": 12, "TripPlanner": 19}
KILL_SHARE = (0.05, 0.9)

Event = dict[str, Any]


@dataclass
class Tracked:
    """One session of a round and what the bench learned about it."""

    session: CrashTolerantSession
    followed: bool  # a client comes back and resumes at once (else: nobody, until measured)
    ended_before_kill: bool = False
    # Seconds from the crash to the session's next new event; None when there was none to wait for.
    next_event: float | None = None
    # The session waited for its user at the crash: nothing could happen without a client.
    waiting_for_user: bool = False
    stuck: bool = False
    stored: list[Event] = field(default_factory=list)


@dataclass
class Round:
    number: int
    kill_after: float
    restart: float
    tracked: list[Tracked]


def event_time(event: Event) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve(work: Path, port: int = 0) -> AbstractContextManager[ServerProcess]:
    env = {CALLS_VARIABLE: str(work / "calls.jsonl")}
    return server_process(work, port, workflows=WORKFLOWS, env=env, command=SERVE)


class Bench:
    def __init__(self, work: Path, stack: ExitStack, sessions: int, deadline: float, rng: random.Random):
        self.work = work
        self.stack = stack
        self.sessions = sessions
        self.deadline = deadline
        self.rng = rng
        self.server: ServerProcess = stack.enter_context(serve(work))
        self.port = self.server.server.port

    async def round(self, number: int) -> Round:
        loop = asyncio.get_running_loop()
        server = self.server.server
        tracked = []
        for i in range(self.sessions):
            workflow = EXAMPLES[i % len(EXAMPLES)]
            session = CrashTolerantSession(
                server.ws_url,
                server.token,
                workflow,
                scripted_inputs(WORKFLOWS, workflow),
                key=f"r{number}-{i}-{workflow}",
                event_timeout=self.deadline,
            )
            followed = i % 2 == 0
            if not followed:
                # Held back from reconnecting until its session has been measured with nobody connected.
                session.may_reconnect.clear()
            tracked.append(Tracked(session, followed))
        tasks = [asyncio.create_task(t.session.run()) for t in tracked]

        total = sum(EXPECTED_EVENTS.get(t.session.workflow, 10) for t in tracked)
        target = max(1, round(self.rng.uniform(*KILL_SHARE) * total))
        started = time.time()
        while sum(len(t.session.events) for t in tracked) < target and not all(t.done() for t in tasks):
            await asyncio.sleep(0.002)
        crashed = time.time()
        kill_after = crashed - started
        self.server.process.send_signal(signal.SIGKILL)
        await loop.run_in_executor(None, self.server.process.wait)
        for t, task in zip(tracked, tasks, strict=True):
            t.ended_before_kill = task.done()
        self.server = await loop.run_in_executor(None, self.stack.enter_context, serve(self.work, self.port))
        restarted = time.time()

        async with httpx.AsyncClient(
            base_url=self.server.server.http_url,
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=10,
        ) as http:
            await asyncio.gather(
                *(self._unattended(http, t, crashed) for t in tracked if not t.followed),
                *(
                    self._followed(t, task, crashed)
                    for t, task in zip(tracked, tasks, strict=True)
                    if t.followed
                ),
            )
            for t, task in zip(tracked, tasks, strict=True):
                try:
                    await asyncio.wait_for(task, max(1.0, restarted + self.deadline - time.time()))
                except TimeoutError:
                    t.stuck = True
                if t.session.session_id is not None:
                    t.stored = await stored(http, t.session.session_id)
        return Round(number, kill_after, restarted - crashed, tracked)

    async def _followed(self, t: Tracked, task: asyncio.Task[Event], crashed: float) -> None:
        """The client reconnects and resumes on its own: wait for the first new event it receives."""
        if t.ended_before_kill:
            return
        while not task.done():
            first = _first_new(t.session.events, crashed)
            if first is not None:
                t.next_event = t.session.arrivals[int(first["seq"])] - crashed
                return
            await asyncio.sleep(0.01)
        first = _first_new(t.session.events, crashed)
        if first is not None:
            t.next_event = t.session.arrivals[int(first["seq"])] - crashed

    async def _unattended(self, http: httpx.AsyncClient, t: Tracked, crashed: float) -> None:
        """Nobody connected: poll the store until the session's next event, or until it plainly waits for its
        user (every input it acknowledged is consumed, and it asks for more); then let the client back."""
        session = t.session
        try:
            if t.ended_before_kill or session.session_id is None:
                return  # done already, or the start was never acknowledged: nothing stored to watch
            give_up = time.time() + self.deadline
            while time.time() < give_up:
                events = await stored(http, session.session_id)
                first = _first_new(events, crashed)
                if first is not None:
                    t.next_event = event_time(first) - crashed
                    return
                view = (await http.get(f"/api/sessions/{session.session_id}")).json()
                consumed = {e["input_id"] for e in events if e["type"] == "user_message"}
                if view["status"] == "awaiting_input" and set(session.acked) <= consumed:
                    t.waiting_for_user = True
                    return
                if view["status"] in ("completed", "failed", "cancelled", "max_turns"):
                    return
                await asyncio.sleep(0.1)
        finally:
            session.may_reconnect.set()


def _first_new(events: list[Event], crashed: float) -> Event | None:
    return next((e for e in events if event_time(e) > crashed), None)


async def stored(http: httpx.AsyncClient, session_id: str) -> list[Event]:
    response = await http.get(f"/api/sessions/{session_id}/events")
    response.raise_for_status()
    events: list[Event] = response.json()["events"]
    return events


def inputs_outcome(t: Tracked) -> tuple[int, int, int]:
    """(acknowledged, lost, consumed twice or more) for one session."""
    consumed = Counter(e["input_id"] for e in t.stored if e["type"] == "user_message")
    acked = t.session.acked
    return len(acked), sum(1 for m in acked if consumed[m] == 0), sum(1 for m in acked if consumed[m] > 1)


def figure(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 0.5):5.1f} / {max(values):5.1f} s (n={len(values)})"


async def run(args: argparse.Namespace, work: Path) -> list[Round]:
    rng = random.Random(args.seed)
    rounds = []
    with ExitStack() as stack:
        bench = Bench(work, stack, args.sessions, args.deadline, rng)
        print(
            f"{'round':>5}  {'kill at':>7}  {'restart':>7}  {'ran':>3}  "
            f"{'no client: next event':>28}  {'idle':>4}  {'one resume: next event':>28}  stuck  lost  failed"
        )
        for number in range(1, args.rounds + 1):
            result = await bench.round(number)
            rounds.append(result)
            print_round(result)
    return rounds


def print_round(result: Round) -> None:
    ran = [t for t in result.tracked if not t.ended_before_kill]
    alone = [t.next_event for t in ran if not t.followed and t.next_event is not None]
    resumed = [t.next_event for t in ran if t.followed and t.next_event is not None]
    # Nobody connected and the session waited for its user: no next event to time.
    idle = sum(1 for t in ran if not t.followed and t.waiting_for_user)
    lost = sum(inputs_outcome(t)[1] for t in result.tracked)
    failed = sum(1 for t in result.tracked if _failed(t))
    print(
        f"{result.number:>5}  {result.kill_after:6.1f}s  {result.restart:6.1f}s  {len(ran):>3}  "
        f"{figure(alone):>28}  {idle:>4}  {figure(resumed):>28}  {sum(t.stuck for t in result.tracked):>5}  "
        f"{lost:>4}  {failed:>6}",
        flush=True,
    )


def _failed(t: Tracked) -> bool:
    end = t.session.end
    return end is not None and not (end["type"] == "run_completed" and end.get("status") == "completed")


def report(rounds: list[Round], work: Path) -> int:
    every = [t for r in rounds for t in r.tracked]
    ran = [t for t in every if not t.ended_before_kill]
    completed = sum(1 for t in every if not t.stuck and not _failed(t) and t.session.end is not None)
    stuck = sum(t.stuck for t in every)
    failed = [t for t in every if _failed(t)]
    acked, lost, twice = (sum(v) for v in zip(*(inputs_outcome(t) for t in every), strict=True))
    alone = [t.next_event for t in ran if not t.followed and t.next_event is not None]
    waiting = sum(1 for t in ran if not t.followed and t.waiting_for_user)
    resumed = [t.next_event for t in ran if t.followed and t.next_event is not None]
    calls_file = work / "calls.jsonl"
    lines = calls_file.read_text().splitlines() if calls_file.is_file() else []
    calls = Counter(json.loads(line)["session_id"] for line in lines if line)
    ledger = usage_rows(work / ".mozaiks")
    ids = {t.session.session_id for t in every if t.session.session_id}
    unbilled = sum(max(0, calls[s] - ledger[s].done - ledger[s].started) for s in ids)
    cut_off = sum(ledger[s].started for s in ids)
    overbilled = sum(max(0, ledger[s].done - calls[s]) for s in ids)

    print()
    print(f"sessions:      {len(every)} in {len(rounds)} rounds, {len(ran)} still running at the kill")
    print(f"completed:     {completed}; stuck {stuck} (not completed within the deadline after the restart)")
    reasons = Counter(
        f"{t.session.end.get('code')}: {t.session.end.get('message', '')[:70]}"
        for t in failed
        if t.session.end
    )
    print(
        f"failed:        {len(failed)}"
        + "".join(f"\n               {n} x {why}" for why, n in reasons.items())
    )
    print(f"inputs:        {acked} acknowledged, {lost} lost, {twice} consumed twice")
    print(f"crash -> next event, no client:   {figure(alone)}; {waiting} waited for their user (not timed)")
    print(f"crash -> next event, one resume:  {figure(resumed)}")
    print(f"restart (SIGKILL to ready):       {figure([r.restart for r in rounds])}")
    print(
        f"model calls:   {sum(calls[s] for s in ids)} served, {sum(ledger[s].done for s in ids)} in the "
        f"ledger with their usage, {cut_off} noted as started (cut off by a kill); {unbilled} served but not "
        f"in the ledger, {overbilled} written but never served"
    )
    return 1 if stuck or lost else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sessions", type=int, default=6, help="sessions per round")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds after a restart to complete")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 sessions")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sessions = 2, 3
    with tempfile.TemporaryDirectory(prefix="mozaiks-recovery-") as tmp:
        work = Path(tmp)
        rounds = asyncio.run(run(args, work))
        return report(rounds, work)


if __name__ == "__main__":
    sys.exit(main())

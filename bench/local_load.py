"""Load on the local server: N concurrent WebSocket sessions x S steps each, on the scripted model.

It starts ``mozaiks serve`` (the real handlers, the embedded store) on a free port with a temp data dir and a
one-agent workflow written for the bench: every step is a user turn answered by the agent. Each session
sends its S user messages one after the other; a step's latency is the time from sending the message to
receiving the input request (or the run's end) that closes the step. At the end every session is replayed
from seq 0 on a fresh connection and compared with what it received live: an event missing, duplicated or
out of order is counted as lost.

Run: ``python bench/local_load.py [--sessions 100] [--steps 10] [--store sqlite|memory]``. Prints completed
sessions, lost events and p50/p99 step latency; exits 1 if a session did not complete or an event was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from runtime_core.local.client import ClientOptions, SessionClient

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = "LoadChat"
FILES = {
    "orchestrator.yaml": {
        "workflow_name": WORKFLOW,
        "description": "One agent answering user turns (the local load bench).",
        "orchestration_strategy": "handoff_based",
        "max_turns": 1000,
        "initial_agent": "Helper",
        "startup_mode": "user_first",
        "human_in_the_loop": True,
        "llm_config": {"model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"},
        "termination_keywords": ["[bye]"],
    },
    "agents.yaml": {
        "agents": [{"name": "Helper", "description": "Answers each turn.", "system_message": "Be brief."}]
    },
    "handoffs.yaml": {
        "handoffs": [{"from_agent": "Helper", "to_agent": "user", "condition_type": "after_work"}]
    },
}


def write_workflow(root: Path, steps: int) -> None:
    folder = root / WORKFLOW
    folder.mkdir(parents=True)
    for name, content in FILES.items():
        (folder / name).write_text(yaml.safe_dump(content, sort_keys=False))
    replies = [f"Answer {n}: noted, here is a sentence or two of reply." for n in range(1, steps)]
    script = {"replies": {"Helper": [*replies, "That is all. [bye]"]}}
    (folder / "script.yaml").write_text(yaml.safe_dump(script, sort_keys=False))


class Server:
    def __init__(self, workflows: Path, data_dir: Path, store: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOZAIKS_", "MONGODB_", "OPENAI_"))}
        env.update({"MOZAIKS_LOCAL_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", "MOZAIKS_MODEL": "scripted"})
        env["PYTHONPATH"] = str(REPO)
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "runtime_core.local", "--port", "0"),
                *("--workflows", str(workflows), "--store", store),
            ],
            cwd=data_dir.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready: "):
                self.ready.set()
        self.ready.set()

    def start(self) -> tuple[int, str]:
        if not self.ready.wait(90) or self.process.poll() is not None:
            raise RuntimeError("the server did not start:\n" + "\n".join(self.lines))
        text = "\n".join(self.lines)
        port = int(re.search(r"^ready: listening on http://127\.0\.0\.1:(\d+)$", text, re.M)[1])  # type: ignore[index]
        token = re.search(r"^  token\s+(\S+)$", text, re.M)[1]  # type: ignore[index]
        return port, token

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def one_session(url: str, token: str, steps: int, latencies: list[float]) -> dict[str, Any]:
    client = SessionClient(ClientOptions(url=url, token=token, open_timeout=60))
    await client.connect()
    session_id = await client.start(WORKFLOW, timeout=120)
    done, turns, sent_at = False, 0, None
    while True:
        event = await client.next(timeout=120)
        if "seq" not in event or event["type"] not in ("input_request", "run_completed", "error"):
            continue
        # The event that closes a step: an input request (the next turn opens) or the run's end.
        if sent_at is not None:
            latencies.append(time.perf_counter() - sent_at)
        if event["type"] != "input_request" or turns == steps:
            done = event["type"] == "run_completed"
            break
        turns += 1
        sent_at = time.perf_counter()
        await client.say(f"User turn {turns}")
    await client.close()
    live = client.log.events

    replay = SessionClient(ClientOptions(url=url, token=token, open_timeout=60))
    await replay.connect()
    await replay.resume(session_id, 0)
    while replay.log.last_seq < live[-1]["seq"]:
        await replay.next(timeout=120)
    await replay.close()
    stored = [e["seq"] for e in replay.log.events]
    received = [e["seq"] for e in live]
    lost = len(set(stored) - set(received)) + (0 if received == sorted(set(received)) else 1)
    return {"completed": done, "events": len(live), "lost": lost, "duplicates": client.log.duplicates}


async def run_load(url: str, token: str, sessions: int, steps: int) -> tuple[list[Any], list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    results = await asyncio.gather(
        *(one_session(url, token, steps, latencies) for _ in range(sessions)), return_exceptions=True
    )
    return results, latencies, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--store", choices=["sqlite", "memory"], default="sqlite", help="the embedded store (serve --store)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mozaiks-bench-") as tmp:
        root = Path(tmp)
        write_workflow(root / "workflows", args.steps)
        (root / "run").mkdir()
        server = Server(root / "workflows", root / "run" / ".mozaiks", args.store)
        try:
            port, token = server.start()
            results, latencies, elapsed = asyncio.run(
                run_load(f"ws://127.0.0.1:{port}/ws", token, args.sessions, args.steps)
            )
        finally:
            server.stop()

    failures = [r for r in results if isinstance(r, BaseException)]
    finished = [r for r in results if isinstance(r, dict)]
    completed = sum(1 for r in finished if r["completed"])
    lost = sum(r["lost"] for r in finished)
    events = sum(r["events"] for r in finished)
    print(
        f"sessions:   {completed}/{args.sessions} completed, {args.steps} steps each, {elapsed:.1f} s "
        f"({args.store} store)"
    )
    print(f"events:     {events} received, {lost} lost, {sum(r['duplicates'] for r in finished)} duplicates")
    if latencies:
        print(
            f"step:       p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"mean {statistics.mean(latencies) * 1000:.0f} ms "
            f"({len(latencies)} steps, {len(latencies) / elapsed:.1f} steps/s)"
        )
    for failure in failures[:3]:
        print(f"failed:     {type(failure).__name__}: {failure}")
    return 0 if completed == args.sessions and lost == 0 and not failures else 1


if __name__ == "__main__":
    sys.exit(main())

"""A ``mozaiks serve`` subprocess for the end-to-end tests: a free port, a temp data dir, the workflows.

The server runs the real handlers from ``functions/`` on the embedded store (SQLite), the scripted model and
the development secret, exactly as a developer would start it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"
ARTIFACTS = REPO / "tests" / "artifacts"
START_TIMEOUT = 60.0


class RunningServer(BaseModel):
    model_config = ConfigDict(frozen=True)

    port: int
    token: str
    data_dir: Path
    banner: str

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return (self.data_dir / "dev-secret").read_text().strip()


class _Output:
    """Drains the server's stdout (handlers log there) so it never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        # Set at the end of the output (the process closed it: it has exited).
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready: "):
                self.ready.set()
        self.ready.set()
        self.done.set()

    def text(self) -> str:
        return "\n".join(self.lines)


def serve_command() -> list[str]:
    """``mozaiks serve`` as a module run; ``runtime_core.local`` is the same command outside the CLI."""
    from runtime_core.cli import COMMANDS

    if "serve" in COMMANDS:
        return [sys.executable, "-m", "runtime_core", "serve"]
    return [sys.executable, "-m", "runtime_core.local"]


class ServerProcess:
    """A started ``mozaiks serve``: the process, its output so far, and what its banner said."""

    def __init__(self, process: subprocess.Popen[str], output: _Output, server: RunningServer) -> None:
        self.process = process
        self.output = output
        self.server = server

    def log(self) -> str:
        return self.output.text()

    def wait_for_line(self, text: str, timeout: float) -> str:
        """The first output line containing ``text``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.output.lines):
                if text in line:
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"no line with {text!r} in the server output:\n{self.log()}")


@contextmanager
def server_process(
    work: Path,
    port: int = 0,
    *,
    workflows: Path = WORKFLOWS,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    command: Sequence[str] | None = None,
) -> Iterator[ServerProcess]:
    """Start the server with ``work`` as its working directory; stop it (SIGTERM, as a developer's Ctrl-C
    would; SIGKILL if it hangs) and keep its log there on exit. ``env`` adds variables for the server (and
    the workflows' tools), ``args`` adds command-line options, ``command`` replaces ``mozaiks serve`` (a
    script taking the same options)."""
    data_dir = work / ".mozaiks"
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOZAIKS_", "MONGODB_", "OPENAI_", "POWERTOOLS_")) and k != "PYTHONPATH"
    }
    child_env.update({"PYTHONPATH": str(REPO), "MOZAIKS_LOCAL_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    child_env.update(env or {})
    process = subprocess.Popen(
        [*(command or serve_command()), "--port", str(port), "--workflows", str(workflows), *args],
        cwd=work,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process)
    try:
        if not output.ready.wait(START_TIMEOUT) or process.poll() is not None:
            raise RuntimeError(f"mozaiks serve did not start:\n{output.text()}")
        banner = output.text()
        port = int(re.search(r"^ready: listening on http://127\.0\.0\.1:(\d+)$", banner, re.M)[1])  # type: ignore[index]
        token = re.search(r"^  token\s+(\S+)$", banner, re.M)[1]  # type: ignore[index]
        server = RunningServer(port=port, token=token, data_dir=data_dir, banner=banner)
        yield ServerProcess(process, output, server)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        output.done.wait(5)
        with (work / "server.log").open("a") as log:
            log.write(output.text() + "\n")


def stored_events(server: RunningServer, session_id: str) -> list[dict[str, Any]]:
    """A session's events as the store has them, through the HTTP API (with the dev token)."""
    import httpx

    events: list[dict[str, Any]] = []
    while True:
        response = httpx.get(
            f"{server.http_url}/api/sessions/{session_id}/events",
            params={"after": events[-1]["seq"] if events else 0},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=10,
        )
        response.raise_for_status()
        page: list[dict[str, Any]] = response.json()["events"]
        if not page:
            return events
        events += page


class LedgerRows(BaseModel):
    """A session's usage ledger: calls whose answer was written (done), and calls noted before they went out
    whose answer never was (started: the process died while the provider answered, or before it was asked)."""

    done: int = 0
    started: int = 0

    def covers(self, served: int) -> bool:
        """Every call the provider served is in the ledger, and every written answer was served."""
        return self.done <= served <= self.done + self.started


def usage_rows(data_dir: Path) -> dict[str, LedgerRows]:
    """Rows of the usage ledger per session id, read from the SQLite store of a server that has stopped
    (``/api`` has no usage endpoint): an embedded server on the data dir's file, in this process."""
    from collections import defaultdict

    from runtime_core.local.environment import STORE_FILE
    from runtime_core.store.embedded import store_from_env

    store = store_from_env({"MOZAIKS_STORE_PATH": str(data_dir / STORE_FILE)}, ensure_indexes=False)
    rows: dict[str, LedgerRows] = defaultdict(LedgerRows)
    try:
        for doc in store.usage.find({}, {"session_id": 1, "status": 1}):
            row = rows[str(doc["session_id"])]
            if doc.get("status") == "started":
                row.started += 1
            else:
                row.done += 1
        return rows
    finally:
        store.close()


@contextmanager
def running_server(work: Path, port: int = 0) -> Iterator[RunningServer]:
    """The example workflows served from ``work`` (see ``server_process``)."""
    with server_process(work, port) as started:
        yield started.server

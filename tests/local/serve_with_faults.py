"""``mozaiks serve`` for the crash-injection tests (and ``bench/recovery.py``): the real server, plus test
hooks that only this script installs (runtime_core never reads these variables):

* ``MOZAIKS_TEST_KILL_AT=<point>:<n>``: at the n-th hit of the named fault point (``runtime_core.faults``),
  counted over the whole process, the process dies with ``os._exit(137)``: no ``finally``, no flush, no store
  close, exactly what ``kill -9`` leaves behind. A line ``fault: killed at <point> hit <n> (session <id>)`` is
  written first so the test can tell the kill it armed from any other exit.
* ``MOZAIKS_TEST_HANG_AT=<point>:<n>``: from the n-th hit of the point on, every step reaching it blocks
  there for good (writing ``fault: hanging at <point> hit <k> (session <id>)``) while its heartbeat keeps
  the lease alive: steps stuck mid-step, for a test that then kills the process with a real SIGKILL.
* ``MOZAIKS_TEST_CALLS_FILE=<path>``: every request the scripted model serves appends one JSON line
  ``{"session_id", "agent", "call", "purpose"}`` to the file (``O_APPEND`` writes straight to the kernel, so a
  line written before a kill survives it). The tests compare these provider calls with the usage ledger
  (see ``_ProviderGate`` for what a kill waits for first).
* ``MOZAIKS_TEST_FAULTS_FILE=<path>``: every hit of every fault point appends ``{"point", "session_id"}``;
  the tests count the hits of an uninterrupted run to arm a kill in the middle of the next one.

A restart re-arms every session at once, so the first steps of the new process start together: the
runtime imports AG2 once, under a lock, for them (runtime_core.engine.loading); nothing here warms it up.

Takes the options of ``mozaiks serve``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from runtime_core import faults
from runtime_core.commands import serve as serve_command
from runtime_core.llm.meter import EXTENSION
from runtime_core.llm.provider import ModelProvider
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.local.launcher import serve
from runtime_core.queue import StepMessage
from runtime_core.workflow import Workflow

KILL_VARIABLE = "MOZAIKS_TEST_KILL_AT"
HANG_VARIABLE = "MOZAIKS_TEST_HANG_AT"
# What a step imports inside functions (runtime_core.worker.step_worker, engine.turn, engine.step, llm.meter).
CALLS_VARIABLE = "MOZAIKS_TEST_CALLS_FILE"
FAULTS_VARIABLE = "MOZAIKS_TEST_FAULTS_FILE"
KILLED_EXIT_CODE = 137  # what a shell reports for SIGKILL (128 + 9)

# The session whose step this thread is running: the local queue runs each step on one thread, and both the
# fault points and the scripted model's transport are called on it.
_current = threading.local()


def current_session() -> str | None:
    return getattr(_current, "session_id", None)


class _Lines:
    """Appends JSON lines to a file with one ``write`` each: whole lines, kept by the kernel across a kill."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record) + "\n").encode())


class _ProviderGate:
    """Model calls the provider has been asked for and the ledger does not have yet (each leaves at its
    ``after_reply``, the point right after its ledger write).

    The kill ends one thread at its fault point; the other steps die wherever they are. One of them between
    a provider's response and its ledger write would make the ledger one call short for a reason that has
    nothing to do with the point under test (no process can close that window: a kill -9 there loses the
    write). So a kill first closes the gate (a request not sent yet never leaves) and waits for the calls
    inside it to reach the ledger. The recovery bench, with real SIGKILLs at random moments, shows the rest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._closed = False

    def enter(self) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                self._inside += 1
        if closed:
            threading.Event().wait()  # the process is about to end: this request is never sent

    def leave(self) -> None:
        with self._lock:
            self._inside = max(0, self._inside - 1)

    def close(self, timeout: float) -> int:
        """Let no new call in; wait for those inside to be written. Returns how many were still inside."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._inside:
                    return 0
            time.sleep(0.002)
        with self._lock:
            return self._inside


_gate = _ProviderGate()


class _Fault:
    """The faults hook: writes every hit to ``trace``; counts the hits of ``point``; at the ``at``-th it kills
    the process (``hang=False``) or, from the ``at``-th on, blocks each step that gets there (``hang=True``).
    ``point=None``: trace only."""

    def __init__(self, point: str | None, at: int, hang: bool, trace: _Lines | None) -> None:
        if point is not None and point not in faults.POINTS:
            raise SystemExit(f"unknown fault point {point!r} (one of {', '.join(faults.POINTS)})")
        self.point = point
        self.at = at
        self.hang = hang
        self.trace = trace
        self._hits = 0
        self._lock = threading.Lock()

    def __call__(self, name: str) -> None:
        if name == "after_reply":
            _gate.leave()
        if self.trace is not None:
            self.trace.write({"point": name, "session_id": current_session()})
        if name != self.point:
            return
        with self._lock:
            self._hits += 1
            hit = self._hits
            if hit == self.at and not self.hang:
                # Under the lock: no other thread reaches the point again before the process is gone.
                inside = _gate.close(timeout=5.0)
                _say(
                    f"fault: killed at {name} hit {hit} (session {current_session()})"
                    + (f"; {inside} model calls not in the ledger yet" if inside else "")
                )
                os._exit(KILLED_EXIT_CODE)
        if self.hang and hit >= self.at:
            _say(f"fault: hanging at {name} hit {hit} (session {current_session()})")
            threading.Event().wait()


def _say(line: str) -> None:
    # os.write: straight to the pipe, ahead of an os._exit that flushes nothing.
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def _fault_hook(spec: str, hang: bool, trace: _Lines | None) -> Callable[[str], None]:
    point, _, count = spec.partition(":")
    return _Fault(point.strip(), int(count or "1"), hang, trace)


class _Recording(httpx.BaseTransport):
    """The scripted model's transport, writing one line per request it served (a response was produced)."""

    def __init__(self, inner: httpx.BaseTransport, session_id: str, sink: _Lines) -> None:
        self._inner = inner
        self._session_id = session_id
        self._sink = sink

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _gate.enter()
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            _gate.leave()  # no response: nothing for the ledger to wait for
            raise
        if response.status_code != 200:
            _gate.leave()  # the meter bills 200s only
        meta: dict[str, Any] = request.extensions.get(EXTENSION, {})
        self._sink.write(
            {
                "session_id": self._session_id,
                "agent": meta.get("agent"),
                "call": meta.get("call"),
                "purpose": meta.get("purpose"),
                "status": response.status_code,
            }
        )
        return response

    def close(self) -> None:
        self._inner.close()


class _CountedScript(ScriptedModel):
    """A ScriptedModel (the engine treats it as one) whose transport records what it serves."""

    def __init__(self, inner: ScriptedModel, session_id: str, sink: _Lines) -> None:
        super().__init__(inner.script)
        self._session_id = session_id
        self._sink = sink

    def transport(self) -> httpx.BaseTransport:
        return _Recording(super().transport(), self._session_id, self._sink)


def _install_call_recording(sink: _Lines | None) -> None:
    """Wrap ``StepWorker.process`` (public): it names the session for the fault trace, and it gives the step
    a provider that records its calls. The worker builds a ``StepWorker`` per delivery, so replacing
    ``provider_for`` on the instance touches that one delivery only."""
    from runtime_core.worker.step_worker import StepReport, StepWorker

    original = StepWorker.process

    def process(
        self: StepWorker, message: StepMessage, *, receipt: str | None = None, deadline: float | None = None
    ) -> StepReport:
        _current.session_id = message.session_id
        if sink is not None:
            inner: Callable[[Workflow], ModelProvider] = self.provider_for

            def counted(workflow: Workflow) -> ModelProvider:
                provider = inner(workflow)
                if not isinstance(provider, ScriptedModel):
                    raise RuntimeError(f"{CALLS_VARIABLE} counts scripted calls only; got {provider.name}")
                return _CountedScript(provider, message.session_id, sink)

            self.provider_for = counted
        try:
            return original(self, message, receipt=receipt, deadline=deadline)
        finally:
            _current.session_id = None

    StepWorker.process = process  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser()
    serve_command.add_arguments(parser)
    args = parser.parse_args()
    calls = os.environ.get(CALLS_VARIABLE)
    trace_path = os.environ.get(FAULTS_VARIABLE)
    trace = _Lines(trace_path) if trace_path else None
    _install_call_recording(_Lines(calls) if calls else None)
    kill = os.environ.get(KILL_VARIABLE, "").strip()
    hang = os.environ.get(HANG_VARIABLE, "").strip()
    if kill or hang:
        faults.install(_fault_hook(kill or hang, bool(hang) and not kill, trace))
    else:
        faults.install(_Fault(None, 0, False, trace))
    return serve(serve_command.options_from(args))


if __name__ == "__main__":
    sys.exit(main())

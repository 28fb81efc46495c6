"""How ``mozaiks serve`` stops, and the work it runs in the background while it serves.

Stopping (SIGINT/SIGTERM, i.e. Ctrl-C or ``kill``) happens in this order, because steps write to the store:

1. the step queue stops: nothing queued is started any more (queued steps are dropped: the store still says
   which sessions are due, and recovery re-arms them after a restart); steps already running go on;
   background tasks start no new run;
2. uvicorn stops: no new connection, no new frame; open sockets are closed with 1012 (their ``$disconnect``
   runs);
3. the server waits, up to the grace period, for running steps, route handlers and background task runs;
4. only when nothing runs any more are the store and the embedded server closed.

A step still running when the grace period ends is abandoned: the process ends at once (``os._exit``), so
neither a store close nor the interpreter's own shutdown runs under it. Its session's lease expires in the
store and a later start recovers it. A second signal ends the process the same way, at once.

``uvicorn.Server`` captures SIGINT/SIGTERM only while it runs and re-raises them when it returns (which would
end the process before step 3); ``StoppableServer`` leaves the signals to ``Shutdown``, which keeps them for
the whole sequence, and runs step 1 as uvicorn begins to stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, TextIO

import uvicorn

if TYPE_CHECKING:
    from runtime_core.services import Services

log = logging.getLogger("mozaiks.local")

DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class BackgroundTask:
    """Work ``mozaiks serve`` runs in a background thread: once at start (after the services are installed,
    while the banner prints), then every ``every_seconds`` until the server stops. An exception is logged and
    the task runs again at its next turn. At shutdown a run in progress is waited for (within the grace
    period) before the store closes; no new run starts. Example: a sweeper that re-arms sessions whose lease
    expired (``serve(options, background=[BackgroundTask("lease-sweeper", sweep, 60.0)])``)."""

    name: str
    run: Callable[[Services], object]
    every_seconds: float

    def __post_init__(self) -> None:
        if self.every_seconds <= 0:
            raise ValueError(f"background task {self.name!r}: every_seconds must be positive")


class BackgroundRunner:
    """Runs one ``BackgroundTask`` on a daemon thread (daemon: an abandoned run must not hold the exit up)."""

    def __init__(self, task: BackgroundTask, services: Services) -> None:
        self.task = task
        self._services = services
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"mozaiks-bg-{task.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.task.run(self._services)
            except Exception:
                log.exception(
                    "background task %s failed; it runs again in %g s",
                    self.task.name,
                    self.task.every_seconds,
                )
            if self._stop.wait(self.task.every_seconds):
                return

    def stop(self) -> None:
        """No new run starts; a run in progress goes on (``join`` waits for it)."""
        self._stop.set()

    def join(self, timeout: float | None) -> bool:
        """True when no run is in progress any more."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()


class Shutdown:
    """The stop request: the first SIGINT/SIGTERM starts a graceful stop, a second one ends the process."""

    def __init__(self, grace_seconds: float, out: TextIO) -> None:
        self.grace_seconds = grace_seconds
        self._out = out
        self._signal: int | None = None
        self._started: float | None = None
        self._on_request: list[Callable[[], None]] = []
        self._abandon: Callable[[], str] = lambda: ""

    @property
    def reason(self) -> str:
        if self._signal is None:
            return "server stopped"
        return signal.Signals(self._signal).name

    def on_request(self, callback: Callable[[], None]) -> None:
        """Called (in the signal handler: it must only set flags) when the first stop request arrives."""
        self._on_request.append(callback)

    def describe_abandoned(self, describe: Callable[[], str]) -> None:
        """What a forced exit leaves behind, for its last line (e.g. the running steps)."""
        self._abandon = describe

    def request(self, signum: int | None = None) -> None:
        if self._started is not None:
            return
        self._signal = signum
        self._started = time.monotonic()
        for callback in self._on_request:
            callback()

    def elapsed(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def remaining(self) -> float:
        """Seconds left of the grace period (counted from the stop request)."""
        return max(0.0, self.grace_seconds - self.elapsed())

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._started is not None:
            self.exit_now(f"second {signal.Signals(signum).name}: exiting at once", 128 + signum)
        self.request(signum)

    def exit_now(self, why: str, code: int) -> None:
        """End the process without closing anything: running steps keep the store untouched (their leases
        expire). Written with os.write: this may run in a signal handler, where a print could re-enter a
        write the main thread was in the middle of."""
        left = self._abandon()
        line = f"{why}{'; ' + left if left else ''}\n"
        for stream in (self._out, sys.stdout, sys.stderr):
            # What was printed before must come out first; a flush re-entered from a signal handler raises.
            with contextlib.suppress(Exception):
                stream.flush()
        for stream in (self._out, sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                os.write(stream.fileno(), line.encode())
                break
        os._exit(code)

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """Handle SIGINT/SIGTERM for the whole stop sequence (only possible in the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class StoppableServer(uvicorn.Server):
    """uvicorn, stopped by ``Shutdown`` and telling the launcher when it starts to stop (``on_stopping``
    runs on the event loop, outside the signal handler, before uvicorn closes the sockets)."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown, on_stopping: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stopping = on_stopping
        shutdown.on_request(self._request_exit)

    def _request_exit(self) -> None:
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Shutdown holds the signals for the whole stop sequence; uvicorn's own capture would re-raise them
        # when the server returns and end the process while steps still run.
        yield

    async def shutdown(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._on_stopping()
        await super().shutdown(sockets)  # type: ignore[arg-type]

"""The running step's heartbeat: it renews the session's lease every few seconds while the step runs.

Leases can then be short (tens of seconds): a step that is alive keeps its session however long its model
takes, and a step whose process died loses it within one lease, after which the sweeper (or a ``resume``)
gives the session to a new delivery. The beat runs on a daemon thread: the step itself stays on the calling
thread, as the engine requires.
"""

from __future__ import annotations

import threading
from types import TracebackType

from runtime_core.store.protocol import Claim, SessionStore
from runtime_core.telemetry import runtime_logger


class Heartbeat:
    """``with Heartbeat(store, claim, lease_seconds): ...`` renews the lease every ``lease_seconds / 3``."""

    def __init__(self, store: SessionStore, claim: Claim, lease_seconds: float) -> None:
        self.store = store
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.interval = max(lease_seconds / 3, 0.5)
        self.beats = 0
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{claim.session_id[:12]}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                held = self.store.renew(self.claim, self.lease_seconds)
            except Exception:
                # A store hiccup: the next beat tries again; the lease has two more intervals to run.
                runtime_logger().warning("lease renewal failed", exc_info=True)
                continue
            self.beats += 1
            if not held:
                # Taken over (this step ran past its lease) or released: the commit will say LeaseLost.
                self.lost = True
                runtime_logger().warning("lease lost while the step runs", extra={"beats": self.beats})
                return

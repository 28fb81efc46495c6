"""In-process step queue with SQS FIFO's guarantee: per session, one step at a time and in order.

Like SQS, a failed step is retried a bounded number of times and then parked in ``dead_letters`` (the DLQ),
and a deduplication id seen in the last five minutes is dropped.

Sessions run in parallel, each on its own thread while it has steps queued: in AWS every message group gets a
Lambda invocation of its own, so one session whose step hangs on a slow model must not delay another session's
step. A small fixed pool would (each hung session holds a thread; once all are held, every other session
waits). Threads are started on demand and end when their session has nothing queued, up to ``workers`` at once
(a generous cap, a guard against runaway thread counts, not a throughput knob); past the cap, sessions wait in
arrival order, and a busy thread hands over to a waiting session after each step instead of draining its own
session's chain first, so a long chain cannot starve the others either.

``stop()`` is the first half of a graceful shutdown: no message is accepted or started any more, steps already
running go on, and ``wait_running`` waits for them. Step threads are daemon threads, so a step still running
when the process exits is abandoned (its lease expires in the store) rather than holding the exit up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from runtime_core.queue.message import StepMessage

log = logging.getLogger(__name__)

DEDUP_WINDOW_SECONDS = 300.0
# Sessions whose steps can run at the same time. Each waits mostly on the model (I/O), so threads are cheap;
# the cap only stops a flood of sessions from starting thousands of them.
DEFAULT_STEP_WORKERS = 64


class LocalStepQueue:
    def __init__(
        self,
        process: Callable[[StepMessage], None],
        *,
        workers: int = DEFAULT_STEP_WORKERS,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._process = process
        self._workers = workers
        self._lock = threading.Lock()
        self._pending: dict[str, deque[StepMessage]] = {}
        # Sessions with messages queued and no thread (the cap was reached), oldest first.
        self._ready: deque[str] = deque()
        # Sessions that have a thread or are in _ready: at most one thread per session, ever.
        self._active: set[str] = set()
        # Sessions whose step is being processed right now (what a shutdown waits for).
        self._running: set[str] = set()
        self._threads = 0
        self._thread_ids = 0
        self._stopped = False
        self._dropped = 0
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._idle = threading.Condition(self._lock)
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self.dead_letters: list[StepMessage] = []

    def enqueue(self, message: StepMessage) -> None:
        key = f"{message.session_id}:{message.dedup_id}"
        now = time.monotonic()
        with self._lock:
            if self._stopped:
                # A step finishing during a shutdown chains its next one here: dropped like the queued ones
                # (the session stays re-armable from the store).
                self._dropped += 1
                log.info("queue stopped: dropped %s", message)
                return
            while self._seen and next(iter(self._seen.values())) < now - DEDUP_WINDOW_SECONDS:
                self._seen.popitem(last=False)
            if key in self._seen:
                return
            self._seen[key] = now
            self._pending.setdefault(message.session_id, deque()).append(message)
            if message.session_id in self._active:
                return
            self._active.add(message.session_id)
            if self._threads >= self._workers:
                self._ready.append(message.session_id)
                return
            self._threads += 1
            self._thread_ids += 1
            name = f"mozaiks-step-{self._thread_ids}"
        # Daemon: a step still running when the process exits is abandoned, not waited for (see stop()).
        thread = threading.Thread(target=self._serve, args=(message.session_id,), name=name, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: the session waits for a running thread, if any
            with self._lock:
                self._threads -= 1
                if self._threads:
                    self._ready.append(message.session_id)
                    return
                self._active.discard(message.session_id)
                self._pending.pop(message.session_id, None)
            raise

    def _next_message(self, session_id: str) -> tuple[str, StepMessage] | None:
        """Under the lock: the next step this thread runs (its session's, or a waiting session's), or None
        when the thread should end."""
        # After stop() nothing is pending or waiting: the thread ends with the step it ran.
        queue = self._pending.get(session_id)
        if queue and self._ready:
            # Sessions are waiting for a thread (the cap is reached): take turns, one step each, as SQS
            # interleaves message groups, so one long chain does not hold the thread to its end.
            self._ready.append(session_id)
            session_id = self._ready.popleft()
        elif not queue:
            self._pending.pop(session_id, None)
            self._active.discard(session_id)
            if not self._ready:
                return None
            session_id = self._ready.popleft()
        return session_id, self._pending[session_id].popleft()

    def _serve(self, session_id: str) -> None:
        try:
            while True:
                with self._lock:
                    self._running.discard(session_id)
                    nxt = self._next_message(session_id)
                    if nxt is None:
                        # Counted down under the same lock that saw nothing left: an enqueue that finds the
                        # cap reached and parks its session in _ready always has a thread left to take it.
                        self._threads -= 1
                        self._idle.notify_all()
                        return
                    session_id, message = nxt
                    self._running.add(session_id)
                self._run(message)
        except BaseException:
            # _run catches what a step raises; only a bug here gets this far. Keep the counts true so a
            # join or a shutdown does not wait for a thread that is gone.
            with self._lock:
                self._running.discard(session_id)
                self._active.discard(session_id)
                self._threads -= 1
                self._idle.notify_all()
            raise

    def _run(self, message: StepMessage) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._process(message)
                return
            except Exception:
                log.exception("step failed (attempt %d of %d): %s", attempt, self._max_attempts, message)
                if self.stopped:
                    # A redelivery is a new step, and a stopped queue starts none: the session is re-armed
                    # from the store at the next start, as for any queued step.
                    with self._lock:
                        self._dropped += 1
                    return
                time.sleep(self._retry_delay * attempt)
        self.dead_letters.append(message)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no step is queued or running; True when idle."""
        return self._wait(lambda: not self._active and not self._running, timeout)

    def _wait(self, done: Callable[[], bool], timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not done():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    # ---- shutdown ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Accept no more messages and start no queued step; steps already running go on to their end.

        What was queued is dropped (counted in ``dropped``): the store still says which sessions are due,
        so a later start re-arms them, as SQS would have kept the messages."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._dropped += sum(len(q) for q in self._pending.values())
            self._pending.clear()
            self._ready.clear()
            self._active.intersection_update(self._running)
            self._idle.notify_all()

    @property
    def stopped(self) -> bool:
        with self._lock:
            return self._stopped

    @property
    def dropped(self) -> int:
        """Messages a stopped queue did not run: queued at ``stop()``, or enqueued or failed after it."""
        with self._lock:
            return self._dropped

    def running(self, *, block: bool = True) -> list[str] | None:
        """Sessions whose step is running now, sorted. ``block=False`` (from a signal handler, which may
        have interrupted this thread inside the lock) returns None rather than wait for the lock."""
        if not self._lock.acquire(blocking=block):
            return None
        try:
            return sorted(self._running)
        finally:
            self._lock.release()

    def queued(self) -> int:
        """Messages waiting for their turn (not running yet)."""
        with self._lock:
            return sum(len(q) for q in self._pending.values())

    def wait_running(self, timeout: float | None = None) -> bool:
        """Wait until no step is running; True when none is (after ``stop()``, the queue is then done)."""
        return self._wait(lambda: not self._running, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """``stop()``, then wait for the running steps; True when none is left running."""
        self.stop()
        return self.wait_running(timeout)

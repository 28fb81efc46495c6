"""In-process step queue with SQS FIFO's guarantee: per session, one step at a time and in order.

Different sessions run in parallel on a small thread pool. Like SQS, a failed step is retried a bounded
number of times and then parked in ``dead_letters`` (the DLQ), and a deduplication id seen in the last five
minutes is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from runtime_core.queue.message import StepMessage

log = logging.getLogger(__name__)

DEDUP_WINDOW_SECONDS = 300.0


class LocalStepQueue:
    def __init__(
        self,
        process: Callable[[StepMessage], None],
        *,
        workers: int = 8,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self._process = process
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mozaiks-step")
        self._lock = threading.Lock()
        self._pending: dict[str, deque[StepMessage]] = {}
        self._active: set[str] = set()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._idle = threading.Condition(self._lock)
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self.dead_letters: list[StepMessage] = []

    def enqueue(self, message: StepMessage) -> None:
        key = f"{message.session_id}:{message.dedup_id}"
        now = time.monotonic()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - DEDUP_WINDOW_SECONDS:
                self._seen.popitem(last=False)
            if key in self._seen:
                return
            self._seen[key] = now
            self._pending.setdefault(message.session_id, deque()).append(message)
            if message.session_id in self._active:
                return
            self._active.add(message.session_id)
        self._pool.submit(self._drain, message.session_id)

    def _drain(self, session_id: str) -> None:
        while True:
            with self._lock:
                queue = self._pending.get(session_id)
                if not queue:
                    self._pending.pop(session_id, None)
                    self._active.discard(session_id)
                    self._idle.notify_all()
                    return
                message = queue.popleft()
            self._run(message)

    def _run(self, message: StepMessage) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._process(message)
                return
            except Exception:
                log.exception("step failed (attempt %d of %d): %s", attempt, self._max_attempts, message)
                time.sleep(self._retry_delay * attempt)
        self.dead_letters.append(message)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no step is queued or running; True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._active:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

"""Model-call retries that know the step's deadline: an httpx transport wrapped around the provider's own.

Why here and not in the OpenAI client: the SDK's retry loop knows nothing of the step's time budget (it sleeps
up to 8 s between attempts and gives each attempt the full configured timeout, 60 s by default), so a hung or
overloaded model could hold a step for minutes past the Lambda's limit. The engine sets the SDK's
``max_retries`` to 0 and retries here, under the client, where every attempt is visible:

- each attempt's network timeouts are ``min(configured, time left before the deadline)``;
- no attempt starts, and no backoff sleep begins, unless ``MIN_ATTEMPT_SECONDS`` would be left for it;
- 408/409/429/5xx, timeouts and connection errors are retried (``x-should-retry`` from the server wins), with
  jittered exponential backoff, or after the server's ``retry-after`` (a longer one than ``MAX_RETRY_AFTER``
  is not retried, as the SDK does);
- at most ``max_retries`` retries (the provider's setting; 4 for the real model, 0 for the scripted one).

When the deadline stops a retry (or cuts an attempt short), ``DeadlineExceeded`` is raised; it is an
``httpx.TimeoutException``, so the OpenAI client reports it as a timeout and the engine as ``model_timeout``.
Its message names no measured time, so the same failure repeated reads the same (the worker compares them).

The request is re-sent as is: its bytes never change between attempts, and only ``request.extensions``
(which never reach the wire) carry the clamped timeouts. A retry is invisible to the client's event hooks, so
usage is metered once, for the response that is finally returned.

Timeouts bound each network wait (connect, each read, write), not their sum: a model that answers nothing
(the common hang) is cut off at the deadline; one that trickles bytes could outlast it by the trickle.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable

import httpx

RETRYABLE_STATUS = frozenset({408, 409, 429})
# No attempt starts with less time than this before the deadline: a model call needs seconds, not millis.
MIN_ATTEMPT_SECONDS = 2.0
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# A server asking for a longer wait than this gets no retry: the step fails with its answer.
MAX_RETRY_AFTER = 60.0
TIMEOUT_PHASES = ("connect", "read", "write", "pool")
_PHASE_OF = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

# Module-level so tests can run the clock forward without sleeping.
now: Callable[[], float] = time.monotonic
pause: Callable[[float], None] = time.sleep


class DeadlineExceeded(httpx.TimeoutException):
    """The step's deadline left no time for (another) model attempt."""


class RetryTransport(httpx.BaseTransport):
    """Retries model calls below the OpenAI client, within ``deadline`` (a ``time.monotonic()`` instant)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        max_retries: int,
        deadline: float | None = None,
        min_attempt: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.inner = inner
        self.max_retries = max(0, max_retries)
        self.deadline = deadline
        self.min_attempt = MIN_ATTEMPT_SECONDS if min_attempt is None else min_attempt
        self.rng = rng

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        configured = dict(request.extensions.get("timeout") or {})
        retries = 0
        last = "no attempt yet"
        while True:
            cut = self._arm(request, configured, last)
            try:
                response = self.inner.handle_request(request)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if _PHASE_OF.get(type(exc)) in cut:
                    raise DeadlineExceeded(
                        f"the model did not answer before the step's deadline ({last})", request=request
                    ) from exc
                if retries >= self.max_retries:
                    raise
                self._wait(self._backoff(retries), request, last, exc)
                retries += 1
                continue
            if retries >= self.max_retries or not _should_retry(response):
                return response
            wait = _retry_after(response.headers)
            if wait is not None and wait > MAX_RETRY_AFTER:
                # The server wants a long pause: a retry sooner would be refused again (the SDK agrees).
                return response
            last = f"HTTP {response.status_code}"
            response.close()
            self._wait(self._backoff(retries) if wait is None else wait, request, last, None)
            retries += 1

    def close(self) -> None:
        self.inner.close()

    def _arm(self, request: httpx.Request, configured: dict[str, float | None], last: str) -> set[str]:
        """Set this attempt's timeouts; returns the phases the deadline, not the configuration, bounds."""
        if self.deadline is None:
            return set()
        left = self.deadline - now()
        if left < self.min_attempt:
            raise DeadlineExceeded(
                f"less than {self.min_attempt:g} s left before the step's deadline for a model attempt "
                f"(last: {last})",
                request=request,
            )
        timeouts: dict[str, float] = {}
        cut: set[str] = set()
        for phase in TIMEOUT_PHASES:
            value = configured.get(phase)
            if value is None or value > left:
                value = left
                cut.add(phase)
            timeouts[phase] = value
        request.extensions["timeout"] = timeouts
        return cut

    def _backoff(self, retries: int) -> float:
        base = min(INITIAL_BACKOFF * 2.0**retries, MAX_BACKOFF)
        return base * (1 - 0.25 * self.rng())

    def _wait(self, seconds: float, request: httpx.Request, last: str, cause: Exception | None) -> None:
        if self.deadline is not None and now() + seconds + self.min_attempt > self.deadline:
            raise DeadlineExceeded(
                f"no time for another model attempt before the step's deadline (last: {last})",
                request=request,
            ) from cause
        pause(seconds)


def _should_retry(response: httpx.Response) -> bool:
    told = response.headers.get("x-should-retry")
    if told == "true":
        return True
    if told == "false":
        return False
    return response.status_code in RETRYABLE_STATUS or response.status_code >= 500


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, ``retry-after`` as seconds or a date)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if scale == 1.0 else None
            if parsed is None:
                continue
            seconds = float(email.utils.mktime_tz(parsed) - time.time())
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return None

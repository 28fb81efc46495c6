"""The worker's delta sink: a step's streamed text, coalesced, posted to the session's live connections.

Deltas go through the same Management API poster as the step's events, while the model writes. They are best
effort: a failed post is dropped (the stored ``agent_message`` follows in the step's own post and on replay),
a client that left is simply not posted to again in this step (its record is deleted by the event post).
The session's connections are looked up once and again after ``refresh_seconds``, so a client that resumes
while an agent writes starts receiving its text within a second, at one store read per second of streaming.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runtime_core.deltas import DeltaCoalescer, TextDelta
from runtime_core.services import Services
from runtime_core.session import Tenant
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError

REFRESH_SECONDS = 1.0


class LiveText:
    """A ``DeltaSink`` for one step of one session."""

    def __init__(
        self,
        services: Services,
        tenant: Tenant,
        session_id: str,
        callback_url: str | None,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.tenant = tenant
        self.session_id = session_id
        self.callback_url = callback_url
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._connections: list[tuple[str, str | None]] = []
        self._looked_up: float | None = None
        self._gone: set[str] = set()
        self.coalescer = DeltaCoalescer(self._post, clock=clock)
        self.posts = 0

    def delta(self, delta: TextDelta) -> None:
        self.coalescer.delta(delta)

    def flush(self) -> None:
        self.coalescer.flush()

    def _targets(self) -> list[tuple[str, str | None]]:
        now = self._clock()
        if self._looked_up is None or now - self._looked_up >= self.refresh_seconds:
            store = self.services.store
            targets: list[tuple[str, str | None]] = []
            for connection_id in store.live_connections(self.tenant, self.session_id):
                endpoint = self.callback_url
                if endpoint is None:
                    record = store.get_connection(connection_id)
                    endpoint = record.endpoint if record is not None else None
                targets.append((connection_id, endpoint))
            self._connections, self._looked_up = targets, now
        return [t for t in self._connections if t[0] not in self._gone]

    def _post(self, delta: TextDelta) -> None:
        for connection_id, endpoint in self._targets():
            if endpoint is None:
                continue
            try:
                outcome = self.services.poster_for(endpoint).post(connection_id, [delta])
            except PostError as exc:
                runtime_logger().debug(
                    "delta post failed", extra={"connection_id": connection_id, "code": exc.code}
                )
                continue
            self.posts += outcome.posts
            if outcome.gone:
                self._gone.add(connection_id)

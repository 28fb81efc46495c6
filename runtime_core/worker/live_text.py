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
from typing import TYPE_CHECKING, Any

from runtime_core.deltas import DeltaCoalescer, TextDelta
from runtime_core.services import Services
from runtime_core.session import Tenant
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError

if TYPE_CHECKING:
    from runtime_core.agui.encoder import AguiEncoder
    from runtime_core.store.protocol import Connection

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
        first_seq: int = 1,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.tenant = tenant
        self.session_id = session_id
        self.callback_url = callback_url
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        # The seq the step's first stored event takes: what opens an AG-UI run the deltas start.
        self.first_seq = first_seq
        # AG-UI connections: the stream each is in, continued by the step's own post (worker.outbox).
        self.encoders: dict[str, AguiEncoder] = {}
        self._connections: list[Connection] = []
        self._looked_up: float | None = None
        self._gone: set[str] = set()
        self.coalescer = DeltaCoalescer(self._post, clock=clock)
        self.posts = 0

    def delta(self, delta: TextDelta) -> None:
        self.coalescer.delta(delta)

    def flush(self) -> None:
        self.coalescer.flush()

    def _targets(self) -> list[Connection]:
        now = self._clock()
        if self._looked_up is None or now - self._looked_up >= self.refresh_seconds:
            self._connections = self.services.store.followers(self.tenant, self.session_id)
            self._looked_up = now
        return [c for c in self._connections if c.connection_id not in self._gone]

    def _post(self, delta: TextDelta) -> None:
        for record in self._targets():
            endpoint = self.callback_url or record.endpoint
            if endpoint is None:
                continue
            messages: list[Any] = [delta]
            if record.encoding == "agui":
                messages = self._agui(record.connection_id, delta)
            try:
                outcome = self.services.poster_for(endpoint).post(record.connection_id, messages)
            except PostError as exc:
                extra = {"connection_id": record.connection_id, "code": exc.code}
                runtime_logger().debug("delta post failed", extra=extra)
                continue
            self.posts += outcome.posts
            if outcome.gone:
                self._gone.add(record.connection_id)

    def _agui(self, connection_id: str, delta: TextDelta) -> list[Any]:
        from runtime_core.agui.delivery import state_at, stored_loader
        from runtime_core.agui.encoder import AguiEncoder, to_json

        encoder = self.encoders.get(connection_id)
        if encoder is None:
            load = stored_loader(self.services, self.tenant, self.session_id)
            state = state_at(self.session_id, self.first_seq - 1, load)
            encoder = self.encoders[connection_id] = AguiEncoder(self.session_id, state)
        return list(to_json(encoder.delta(delta, self.first_seq)))

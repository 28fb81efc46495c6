"""Carrying out what a committed step left to do: post its events, queue its next step, clear the outbox.

The commit writes the outbox in the same transaction as the step, so whatever happens to the process after it,
the store knows what is still owed. The worker that committed carries it out at once; if it died first, the
next delivery of the session, a client's ``resume`` or the sweeper does (``carry_out``). Doing it twice is
harmless: clients drop a ``seq`` they already have, and the next step's deduplication id (its progress) makes
a second enqueue a no-op in SQS and a stale message for the worker.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from runtime_core.queue import StepMessage
from runtime_core.services import Services
from runtime_core.session import Tenant
from runtime_core.store.protocol import Outbox
from runtime_core.telemetry import runtime_logger
from runtime_core.transport import PostError
from runtime_core.worker.live_text import LiveText


class PostReport(BaseModel):
    connections: int = 0
    posts: int = 0
    gone: int = 0
    bytes: int = 0
    failed: int = 0
    # Epoch seconds when the first post call delivered (the step metrics' FrameToFirstEvent ends there).
    first_post_at: float | None = None


def post_to_session(
    services: Services,
    tenant: Tenant,
    session_id: str,
    messages: Sequence[Any],
    callback_url: str | None,
    live: LiveText | None = None,
) -> PostReport:
    """One post call per live connection of the session (the poster batches the messages). AG-UI connections
    get the messages encoded (``runtime_core.agui``), continuing the stream the step's deltas (``live``)
    started on them."""
    report = PostReport()
    if not messages:
        return report
    store = services.store
    for record in store.followers(tenant, session_id):
        connection_id = record.connection_id
        report.connections += 1
        # Without a configured endpoint, the one recorded at $connect.
        endpoint = callback_url or record.endpoint
        if endpoint is None:
            runtime_logger().error("no Management API endpoint: set MOZAIKS_WS_CALLBACK_URL")
            return report
        posted: list[Any] = list(messages)
        if record.encoding == "agui":
            try:
                posted = agui_messages(services, tenant, session_id, connection_id, posted, live)
            except Exception:
                # Reading where its stream stands failed (the store): like a failed post, the client gets the
                # events when it resumes; the committed step is not redone for it.
                runtime_logger().exception("AG-UI encoding failed", extra={"connection_id": connection_id})
                report.failed += 1
                continue
        try:
            outcome = services.poster_for(endpoint).post(connection_id, posted)
        except PostError as exc:
            # The events are stored: the client gets them when it resumes. A post failure must not fail (and
            # so redo) a step that is already committed.
            runtime_logger().warning("post failed", extra={"connection_id": connection_id, "code": exc.code})
            report.failed += 1
            continue
        report.posts += outcome.posts
        report.bytes += outcome.bytes
        if outcome.posts and report.first_post_at is None:
            report.first_post_at = time.time()
        if outcome.gone:
            report.gone += 1
            store.delete_connection(connection_id)
    return report


def agui_messages(
    services: Services,
    tenant: Tenant,
    session_id: str,
    connection_id: str,
    events: list[Any],
    live: LiveText | None,
) -> list[Any]:
    from runtime_core.agui.delivery import encode_events, state_at, stored_loader
    from runtime_core.agui.encoder import AguiEncoder

    stored = [e for e in events if isinstance(getattr(e, "seq", None), int)]
    if not stored:
        return events  # control notices stay this runtime's messages
    encoder = live.encoders.get(connection_id) if live is not None else None
    if encoder is None:
        after = min(int(e.seq) for e in stored) - 1
        load = stored_loader(services, tenant, session_id)
        encoder = AguiEncoder(session_id, state_at(session_id, after, load))
    out: list[Any] = []
    for message in events:
        out.extend(encode_events(encoder, [message]) if message in stored else [message])
    return out


def carry_out(
    services: Services,
    tenant: Tenant,
    session_id: str,
    outbox: Outbox,
    callback_url: str | None,
    *,
    finish: bool = True,
    grace_seconds: float = 30.0,
) -> PostReport:
    """Post the outbox's events (read back from the store) and queue its next step; then clear it, unless the
    caller holds the session's lease and clears it itself (``finish=False``)."""
    store = services.store
    count = outbox.post_to - outbox.post_after
    events = store.events_after(tenant, session_id, outbox.post_after, limit=count) if count > 0 else []
    report = post_to_session(services, tenant, session_id, events, callback_url)
    if outbox.next is not None:
        services.queue.enqueue(StepMessage.of(tenant, session_id, outbox.next.reason, outbox.next.dedup_id))
    if finish:
        store.finish_outbox(
            tenant, session_id, outbox.id, due_in=grace_seconds if outbox.next is not None else None
        )
    runtime_logger().info(
        "outbox carried out",
        extra={"session_id": session_id, "events": len(events), "next": outbox.next and outbox.next.dedup_id},
    )
    return report

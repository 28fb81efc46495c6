"""Encoding what is posted to an AG-UI connection: the stream's state at a seq, and the events after it.

The encoder is a fold, so encoding the events after ``seq`` needs the state at ``seq``. It only depends on
the events since the stream last closed a run (an ``input_request``, ``run_completed`` or an error that
stopped the step: after those nothing is open), so ``state_at`` reads the stored events backwards, a window
at a time, until it finds one: a run's length, not the session's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runtime_core.agui.encoder import STOPS_THE_STEP, AguiEncoder, AguiState, state_after, to_json
from runtime_core.events import Event
from runtime_core.protocol import ReplayEnd
from runtime_core.services import Services
from runtime_core.session import Tenant

WINDOW = 64
AGUI = "agui"

Load = Callable[[int, int], list[Event]]  # (after_seq, limit) -> stored events after it, in order


def closes_run(event: Event) -> bool:
    return event.type in ("input_request", "run_completed") or (
        event.type == "error" and event.code in STOPS_THE_STEP
    )


def state_at(session_id: str, seq: int, load: Load, window: int = WINDOW) -> AguiState:
    """The state of the session's AG-UI stream after its event ``seq`` (0: before the first)."""
    events: list[Event] = []
    upper = seq
    while upper > 0:
        lower = max(0, upper - window)
        events = load(lower, upper - lower) + events
        for index in range(len(events) - 1, -1, -1):
            if closes_run(events[index]):
                return state_after(session_id, events[index + 1 :])
        upper = lower
    return state_after(session_id, events)


def stored_loader(services: Services, tenant: Tenant, session_id: str) -> Load:
    def load(after_seq: int, limit: int) -> list[Event]:
        return services.store.events_after(tenant, session_id, after_seq, limit=limit)

    return load


def encode_events(encoder: AguiEncoder, events: Sequence[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events:
        out.extend(to_json(encoder.event(event)))
    return out


def encode_replies(services: Services, tenant: Tenant, replies: Sequence[Any]) -> list[Any]:
    """A frame's replies for an AG-UI connection: control replies as they are (inputs and their answers stay
    this runtime's frames), a replay's events as AG-UI events after the prologue that opens the stream where
    the replay starts (the run and step open at ``after_seq``)."""
    end = next((r for r in replies if isinstance(r, ReplayEnd)), None)
    if end is None:
        return list(replies)
    session_id = end.session_id
    encoder = AguiEncoder(
        session_id, state_at(session_id, end.after_seq, stored_loader(services, tenant, session_id))
    )
    out: list[Any] = []
    opened = False
    for reply in replies:
        if isinstance(getattr(reply, "seq", None), int) and getattr(reply, "session_id", None) == session_id:
            if not opened:
                out.extend(to_json(encoder.prologue()))
                opened = True
            out.extend(to_json(encoder.event(reply)))
        else:
            if reply is end and not opened:
                out.extend(to_json(encoder.prologue()))
                opened = True
            out.append(reply)
    return out

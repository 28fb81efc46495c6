"""Coalescing streamed text into posts: bounded per interval and size, contiguous, first piece at once."""

from __future__ import annotations

import itertools

from runtime_core.deltas import DeltaCoalescer, TextDelta


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _delta(offset: int, text: str, turn: int = 1) -> TextDelta:
    return TextDelta(session_id="s", agent="A", turn=turn, message_id=f"s:{turn}", offset=offset, text=text)


def test_pieces_are_joined_until_the_interval_passes_and_the_first_goes_at_once() -> None:
    clock, posted = Clock(), []
    coalescer = DeltaCoalescer(posted.append, interval=0.08, max_chars=1000, clock=clock)
    offset = 0
    for _ in range(100):  # 100 pieces of 4 characters, 10 ms apart: one second of writing
        coalescer.delta(_delta(offset, "abcd"))
        offset += 4
        clock.now += 0.01
    coalescer.flush()
    assert [(p.offset, len(p.text)) for p in posted][:2] == [(0, 4), (4, 32)]
    # At most one post per 80 ms (plus the first and the final flush), and nothing lost or reordered.
    assert len(posted) <= 1 + 1.0 / 0.08 + 1
    assert "".join(p.text for p in posted) == "abcd" * 100
    assert all(b.offset == a.offset + len(a.text) for a, b in itertools.pairwise(posted))


def test_a_burst_is_cut_at_max_chars_and_a_new_message_or_a_gap_flushes() -> None:
    clock, posted = Clock(), []
    coalescer = DeltaCoalescer(posted.append, interval=10.0, max_chars=10, clock=clock)
    coalescer.delta(_delta(0, "x"))  # first piece: at once
    for i in range(1, 25):
        coalescer.delta(_delta(i, "y"))
    assert [len(p.text) for p in posted] == [1, 10, 10]
    coalescer.delta(_delta(0, "new", turn=2))  # another message: what waits goes first
    assert [p.message_id for p in posted[-2:]] == ["s:1", "s:2"]
    coalescer.delta(_delta(0, "again", turn=2))  # a retried attempt restarts at 0: not joined to the old one
    coalescer.flush()
    assert [(p.offset, p.text) for p in posted[-1:]] == [(0, "again")]
    assert coalescer.posts == len(posted)


def test_a_failing_post_never_reaches_the_engine() -> None:
    def refuse(delta: TextDelta) -> None:
        raise RuntimeError("connection gone")

    coalescer = DeltaCoalescer(refuse)
    coalescer.delta(_delta(0, "hello"))
    coalescer.flush()
    assert coalescer.posts == 1

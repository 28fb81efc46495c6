"""How messages become Management API posts, and how a client turns posts back into messages.

A post (one WebSocket message, at most 128 KB) carries one of:

* a single message, as is: ``{"type": "agent_message", "seq": 7, ...}``;
* several messages in order: ``{"type": "batch", "messages": [{...}, {...}]}``;
* one part of a message too large for any post: ``{"type": "chunk", "seq": 7, "part": 0, "parts": 3,
  "data": "..."}``. ``data`` is a slice of the message's JSON text; concatenating ``data`` of parts
  ``0..parts-1`` and parsing the result gives the message. A chunk is always posted alone and parts arrive in
  order. If part 0 arrives again, the sequence restarted (the server re-split it smaller) and earlier parts
  are discarded.

Sizes are measured on the UTF-8 bytes actually posted, because neither boto3 nor API Gateway's client
libraries check them for us: an oversized post is only refused by the service, after the round trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_POST_BYTES = 128 * 1024
BATCH_OPEN = '{"type":"batch","messages":['
BATCH_CLOSE = "]}"
# Chunk overhead is measured with ten-digit numbers so the budget holds for any part count.
_CHUNK_PROBE = '{"type":"chunk","seq":9999999999,"part":9999999999,"parts":9999999999,"data":""}'
MIN_POST_BYTES = len(_CHUNK_PROBE) + 64

Message = Mapping[str, Any] | BaseModel


class Encoded(BaseModel):
    """A message serialised once: its compact JSON text and the byte size it costs in a post."""

    model_config = ConfigDict(frozen=True)

    text: str
    size: int
    seq: int | None = None


class PlannedPost(BaseModel):
    model_config = ConfigDict(frozen=True)

    payload: str
    size: int
    messages: tuple[Encoded, ...]
    # Set on chunk posts: all parts of one message share it, so a retry can supersede the remaining parts.
    chunk_of: int | None = None


def encode(message: Message) -> Encoded:
    data = message.model_dump(mode="json") if isinstance(message, BaseModel) else dict(message)
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate cannot travel as UTF-8; \u escapes keep it valid JSON all the same.
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        size = len(text)
    seq = data.get("seq")
    return Encoded(
        text=text, size=size, seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    )


def batch_size(sizes: Iterable[int]) -> int:
    sizes = list(sizes)
    return len(BATCH_OPEN) + sum(sizes) + max(len(sizes) - 1, 0) + len(BATCH_CLOSE)


def _char_cost(ch: str) -> int:
    # Cost of one character of JSON text once it is itself embedded in a JSON string (ensure_ascii=False).
    if ch in '"\\':
        return 2
    return len(ch.encode("utf-8", "surrogatepass"))


def chunk(message: Encoded, max_bytes: int, group: int) -> list[PlannedPost]:
    budget = max_bytes - len(_CHUNK_PROBE)
    if budget < 8:
        raise ValueError(f"max_bytes {max_bytes} leaves no room for chunk data")
    slices: list[str] = []
    start = used = 0
    for i, ch in enumerate(message.text):
        cost = _char_cost(ch)
        if used + cost > budget:
            slices.append(message.text[start:i])
            start, used = i, 0
        used += cost
    slices.append(message.text[start:])
    posts = []
    for part, data in enumerate(slices):
        frame = {"type": "chunk", "seq": message.seq, "part": part, "parts": len(slices), "data": data}
        payload = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        posts.append(
            PlannedPost(
                payload=payload,
                size=len(payload.encode("utf-8", "surrogatepass")),
                messages=(message,),
                chunk_of=group,
            )
        )
    return posts


def plan_posts(messages: Sequence[Encoded], max_bytes: int = MAX_POST_BYTES) -> list[PlannedPost]:
    """Group messages, in order, into the fewest posts that each fit ``max_bytes`` (greedy is optimal here:
    order is fixed, so each post takes as many following messages as fit)."""
    posts: list[PlannedPost] = []
    current: list[Encoded] = []

    def flush() -> None:
        if len(current) == 1:
            only = current[0]
            posts.append(PlannedPost(payload=only.text, size=only.size, messages=(only,)))
        elif current:
            payload = BATCH_OPEN + ",".join(m.text for m in current) + BATCH_CLOSE
            posts.append(
                PlannedPost(
                    payload=payload, size=batch_size(m.size for m in current), messages=tuple(current)
                )
            )
        current.clear()

    for index, message in enumerate(messages):
        if message.size > max_bytes:
            flush()
            posts.extend(chunk(message, max_bytes, group=index))
        elif not current or batch_size([*(m.size for m in current), message.size]) <= max_bytes:
            current.append(message)
        else:
            flush()
            current.append(message)
    flush()
    return posts


def split_posts(buffer: bytes | str) -> list[Any]:
    """Split concatenated JSON documents (moto keeps every post to a connection in one buffer)."""
    text = buffer.decode("utf-8") if isinstance(buffer, bytes) else buffer
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            break
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


class Reassembler:
    """The client side of the framing, in Python: feed posts in arrival order, get messages back."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._expected: int | None = None

    def feed(self, post: str | bytes | Mapping[str, Any]) -> list[dict[str, Any]]:
        data = json.loads(post) if isinstance(post, str | bytes) else dict(post)
        if data.get("type") == "batch":
            out: list[dict[str, Any]] = []
            for message in data["messages"]:
                out.extend(self.feed(message))
            return out
        if data.get("type") != "chunk":
            return [data]
        part, parts = data["part"], data["parts"]
        if part == 0:
            self._parts, self._expected = [], parts
        if part != len(self._parts) or parts != self._expected:
            raise ValueError(f"chunk part {part}/{parts} arrived out of order")
        self._parts.append(data["data"])
        if len(self._parts) < parts:
            return []
        text = "".join(self._parts)
        self._parts, self._expected = [], None
        return [json.loads(text)]

"""The outbound event port: Management API poster (Lambda) and in-memory poster (tests, local server)."""

from runtime_core.transport.framing import MAX_POST_BYTES, Reassembler, encode, plan_posts, split_posts
from runtime_core.transport.management_api import ManagementApiPoster, callback_url_from_event
from runtime_core.transport.memory import InMemoryPoster
from runtime_core.transport.poster import Poster, PostError, PostOutcome

__all__ = [
    "MAX_POST_BYTES",
    "InMemoryPoster",
    "ManagementApiPoster",
    "PostError",
    "PostOutcome",
    "Poster",
    "Reassembler",
    "callback_url_from_event",
    "encode",
    "plan_posts",
    "split_posts",
]

"""Posting through the API Gateway Management API (``POST /@connections/{id}``)."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runtime_core.transport.framing import (
    MAX_POST_BYTES,
    MIN_POST_BYTES,
    Encoded,
    Message,
    encode,
    plan_posts,
)
from runtime_core.transport.poster import PostError, PostOutcome

_CLIENTS: dict[tuple[str, str | None], Any] = {}
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


def callback_url_from_event(event: Mapping[str, Any]) -> str:
    """``https://{domainName}/{stage}`` from a WebSocket event's requestContext.

    Behind a custom domain, domainName is that domain and the API mapping path, not the stage, follows it: set
    MOZAIKS_WS_CALLBACK_URL to the execute-api URL instead of deriving it there.
    """
    context = event.get("requestContext") or {}
    domain, stage = context.get("domainName"), context.get("stage")
    if not domain or not stage:
        raise ValueError("event has no requestContext.domainName / requestContext.stage")
    return f"https://{domain}/{stage}"


def management_api_client(endpoint_url: str, region: str | None) -> Any:
    """A client for one endpoint, shared by every poster of the container (clients are costly to build)."""
    key = (endpoint_url, region)
    if key not in _CLIENTS:
        # Imported here: runtime_core keeps AWS SDK imports out of module level.
        import boto3
        from botocore.config import Config

        # One attempt per call: throttling is retried below with our own bounded backoff, and a 410 must never
        # be retried at all.
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5
        )
        _CLIENTS[key] = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region, config=config
        )
    return _CLIENTS[key]


class ManagementApiPoster:
    """Batches, chunks, retries throttling, splits on 413, reports 410 as gone, counts posts."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        client: Any = None,
        region: str | None = None,
        max_post_bytes: int = MAX_POST_BYTES,
        max_attempts: int = 5,
        base_delay: float = 0.05,
        max_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_post_bytes < MIN_POST_BYTES:
            raise ValueError(f"max_post_bytes must be at least {MIN_POST_BYTES}")
        match = _REGION_IN_HOST.search(endpoint_url)
        self.region = region or (match.group(1) if match else None) or os.environ.get("AWS_REGION")
        self.endpoint_url = endpoint_url
        self.client = client if client is not None else management_api_client(endpoint_url, self.region)
        self.max_post_bytes = max_post_bytes
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        # Over the poster's life (one per invocation in the handlers): the "posts per step" figure.
        self.total_posts = 0
        self.total_calls = 0

    @classmethod
    def from_event(cls, event: Mapping[str, Any], **options: Any) -> ManagementApiPoster:
        return cls(callback_url_from_event(event), **options)

    def post(self, connection_id: str, messages: Sequence[Message]) -> PostOutcome:
        encoded = [encode(m) for m in messages]
        posts, gone = self._deliver(connection_id, encoded, self.max_post_bytes)
        delivered = 0 if gone else sum(e.size for e in encoded)
        return PostOutcome(
            connection_id=connection_id,
            posts=posts,
            messages=0 if gone else len(encoded),
            bytes=delivered,
            gone=gone,
        )

    def _deliver(self, connection_id: str, messages: list[Encoded], limit: int) -> tuple[int, bool]:
        posts = 0
        superseded: set[int] = set()
        for planned in plan_posts(messages, limit):
            if planned.chunk_of is not None and planned.chunk_of in superseded:
                continue
            status = self._send(connection_id, planned.payload)
            if status == "gone":
                return posts, True
            if status == "posted":
                posts += 1
                continue
            # 413: the service counts differently from us. Split the batch in two (each half then fits in one
            # post below the refused size), or re-chunk a single message into parts half as large.
            if planned.chunk_of is None and len(planned.messages) > 1:
                middle = len(planned.messages) // 2
                halves = [list(planned.messages[:middle]), list(planned.messages[middle:])]
                retry_limit = planned.size - 1
            else:
                halves = [list(planned.messages)]
                retry_limit = min(limit, planned.size) // 2
                if retry_limit < MIN_POST_BYTES:
                    raise PostError(
                        "payload_too_large",
                        f"a post of {planned.size} bytes was refused as too large and cannot be split",
                        413,
                    )
            if planned.chunk_of is not None:
                superseded.add(planned.chunk_of)
            for half in halves:
                more, gone = self._deliver(connection_id, half, retry_limit)
                posts += more
                if gone:
                    return posts, True
        return posts, False

    def close(self, connection_id: str, reason: str) -> bool:
        """DELETE @connections/{id}: API Gateway closes the socket (it takes no code or reason: the client
        learns why from the ``closing`` message posted before)."""
        from botocore.exceptions import ClientError

        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                return False
            raise PostError(code or "client_error", str(exc), status) from exc
        return True

    def _send(self, connection_id: str, payload: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(self.max_attempts):
            self.total_calls += 1
            try:
                self.client.post_to_connection(ConnectionId=connection_id, Data=payload.encode("utf-8"))
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code == "GoneException" or status == 410:
                    return "gone"
                if code == "PayloadTooLargeException" or status == 413:
                    return "too_large"
                if code in ("LimitExceededException", "TooManyRequestsException") or status == 429:
                    if attempt + 1 < self.max_attempts:
                        # Jittered: workers throttled together must not all retry at the same instant.
                        cap = min(self.max_delay, self.base_delay * 2**attempt)
                        self.sleep(random.uniform(cap / 2, cap))
                        continue
                    raise PostError(
                        "throttled", f"still throttled after {self.max_attempts} attempts", 429
                    ) from exc
                raise PostError(code or "client_error", str(exc), status) from exc
            except BotoCoreError as exc:
                raise PostError("unreachable", str(exc)) from exc
            self.total_posts += 1
            return "posted"
        raise AssertionError("unreachable: the loop returns or raises")

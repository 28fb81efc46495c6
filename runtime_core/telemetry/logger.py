"""Structured JSON logs with per-invocation correlation keys.

Warm Lambda containers reuse the logger, and keys added with ``append_keys`` survive into the next invocation;
``bind_invocation`` therefore drops every correlation key before adding the new ones, so a log line can never
carry the previous caller's session or tenant.
"""

from __future__ import annotations

from functools import cache
from typing import IO

from aws_lambda_powertools import Logger

CORRELATION_KEYS = ("connection_id", "session_id", "app_id", "request_id")


def build_logger(service: str | None = None, stream: IO[str] | None = None) -> Logger:
    """One per container; ``service`` defaults to POWERTOOLS_SERVICE_NAME (set per function)."""
    return Logger(service=service, stream=stream, utc=True)


@cache
def runtime_logger() -> Logger:
    """The container's logger, shared by every handler of the process (built on first use)."""
    return build_logger()


def bind_invocation(
    logger: Logger,
    *,
    connection_id: str | None = None,
    session_id: str | None = None,
    app_id: str | None = None,
    request_id: str | None = None,
) -> None:
    """Call at the start of every invocation (and again once the session or tenant is known)."""
    logger.remove_keys(CORRELATION_KEYS)
    keys = {
        "connection_id": connection_id,
        "session_id": session_id,
        "app_id": app_id,
        "request_id": request_id,
    }
    present = {k: v for k, v in keys.items() if v is not None}
    if present:
        logger.append_keys(**present)


def unbind_invocation(logger: Logger) -> None:
    logger.remove_keys(CORRELATION_KEYS)

from __future__ import annotations

import io
import json

from runtime_core.telemetry import bind_invocation, build_logger, unbind_invocation


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_correlation_keys_never_leak_into_the_next_invocation() -> None:
    stream = io.StringIO()
    logger = build_logger(service="mozaiks-test", stream=stream)
    bind_invocation(logger, connection_id="c-1", session_id="s-1", app_id="app-1")
    logger.info("first")
    # Next warm invocation: a different connection, session not known yet.
    bind_invocation(logger, connection_id="c-2")
    logger.info("second")
    unbind_invocation(logger)
    logger.info("third")
    first, second, third = lines(stream)
    assert (first["connection_id"], first["session_id"], first["app_id"]) == ("c-1", "s-1", "app-1")
    assert second["connection_id"] == "c-2" and "session_id" not in second and "app_id" not in second
    assert not {"connection_id", "session_id", "app_id"} & set(third)
    assert first["service"] == "mozaiks-test" and first["message"] == "first" and first["level"] == "INFO"

"""$connect and $disconnect with real API Gateway event shapes: tokens from the query or the subprotocol."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from functions import connect
from tests.functions.conftest import SECRET, sample, token
from tests.functions.harness import Client, LambdaContext, connect_event

SAMPLE_SECRET = "sample-secret-for-local-invoke-only-0123456789"


def _connections(store: Any) -> list[dict[str, Any]]:
    return list(store.connections.find({}))


def test_the_sample_events_connect(services: Any, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOZAIKS_JWT_SECRET", SAMPLE_SECRET)
    assert connect.handler(sample("connect.json"), LambdaContext()) == {"statusCode": 200}
    response = connect.handler(sample("connect_subprotocol.json"), LambdaContext())
    # The browser drops the socket unless the chosen subprotocol is echoed (the marker, never the token).
    assert response == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "mozaiks.jwt"}}
    records = {
        c.connection_id: c
        for c in map(store.get_connection, ["Jx1ABcDEoAMCJYQ=", "Jx2CDeFGoAMCKZR="])
        if c is not None
    }
    assert set(records) == {"Jx1ABcDEoAMCJYQ=", "Jx2CDeFGoAMCKZR="}
    record = records["Jx1ABcDEoAMCJYQ="]
    assert (record.tenant.app_id, record.tenant.user_id) == ("demo-app", "user-123")
    # Expires on its own ($disconnect is best effort): the configured TTL, 7800 s by default.
    assert abs((record.expires_at - record.created_at).total_seconds() - 7800) < 2


def test_a_connection_is_recorded_and_nothing_is_posted(aws: Any, services: Any, store: Any) -> None:
    client = Client(aws, "conn-1", app_id="app-9", user_id="user-9")
    assert client.connect() == {"statusCode": 200}
    record = store.get_connection("conn-1")
    assert record is not None and (record.tenant.app_id, record.tenant.user_id) == ("app-9", "user-9")
    assert aws.posted("conn-1") == b""


def _expired() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "u", "app_id": "a", "iat": now - 7200, "exp": now - 3600}, SECRET)


REFUSED = [
    ("missing", lambda: None, False, 401, "missing_token"),
    ("garbage", lambda: "not-a-jwt", False, 401, "malformed_token"),
    (
        "wrong key",
        lambda: jwt.encode({"sub": "u", "app_id": "a", "exp": int(time.time()) + 60}, "x" * 40),
        False,
        401,
        "invalid_signature",
    ),
    ("expired", _expired, False, 401, "expired"),
    (
        "alg none",
        lambda: jwt.encode({"sub": "u", "app_id": "a", "exp": int(time.time()) + 60}, None, algorithm="none"),
        False,
        401,
        "unsupported_algorithm",
    ),
    (
        "no app claim",
        lambda: jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, SECRET),
        False,
        403,
        "missing_claim",
    ),
    ("subprotocol without token", lambda: None, True, 401, "missing_token"),
    ("huge", lambda: "a" * 9000 + ".b.c", False, 401, "token_too_large"),
]


@pytest.mark.parametrize(
    ("label", "make", "subprotocol", "status", "reason"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_tokens_store_nothing(
    services: Any, store: Any, label: str, make: Any, subprotocol: bool, status: int, reason: str
) -> None:
    response = connect.handler(connect_event("conn-x", make(), subprotocol=subprotocol), LambdaContext())
    assert response["statusCode"] == status
    assert response["body"].startswith(f"{reason}:")
    assert "headers" not in response
    assert _connections(store) == []


def test_log_lines_carry_the_invocations_keys_and_only_those(
    services: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect.handler(connect_event("conn-1", token("app-1", "user-1")), LambdaContext(request_id="r-1"))
    connect.handler(connect_event("conn-2", "not-a-jwt"), LambdaContext(request_id="r-2"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    accepted = next(line for line in lines if line["message"] == "connected")
    refused = next(line for line in lines if line["message"] == "connection refused")
    assert (accepted["connection_id"], accepted["app_id"], accepted["request_id"]) == (
        "conn-1",
        "app-1",
        "r-1",
    )
    # A warm container reuses the logger: the previous caller's tenant must not leak into this line.
    assert refused["connection_id"] == "conn-2" and refused["request_id"] == "r-2"
    assert "app_id" not in refused
